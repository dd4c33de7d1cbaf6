package client

import (
	"testing"

	"github.com/jobsched/jobsched/internal/leaktest"
)

func TestMain(m *testing.M) {
	leaktest.VerifyTestMain(m)
}
