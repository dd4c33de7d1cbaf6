package jobsched_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/jobsched/jobsched/internal/leaktest"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(envCrashChild); mode != "" {
		// This process is the child of a test that runs processes.
		if strings.HasPrefix(mode, "backlog-") {
			backlogChild(mode)
		}
		crashChild(mode)
		return
	}
	leaktest.VerifyTestMain(m)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
