package jobsched_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

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
	goleak.VerifyTestMain(m,
		// protoactor-go starts one dead-letter throttle goroutine per ActorSystem and never stops it.
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
		// badger's process-wide caches start goroutines once.
		goleak.IgnoreAnyFunction("github.com/golang/glog.(*fileSink).flushDaemon"),
		goleak.IgnoreTopFunction("github.com/dgraph-io/ristretto/v2.(*defaultPolicy[...]).processItems"),
		goleak.IgnoreTopFunction("github.com/dgraph-io/ristretto/v2.(*Cache[...]).processItems"),
	)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
