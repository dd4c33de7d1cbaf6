package jobsched_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/jobsched/jobsched/internal/leaktest"
	"github.com/jobsched/jobsched/internal/pgtest"
	"go.uber.org/goleak"
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
	goleak.VerifyTestMain(pgtest.Main(m), leaktest.Ignore...) // pgtest stops its server, if a test started it
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
