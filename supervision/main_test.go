package supervision

import (
	"io"
	"log/slog"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jobsched/jobsched/internal/leaktest"
)

func quietLogger(*actor.ActorSystem) *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func TestMain(m *testing.M) {
	// protoactor-go starts one dead-letter throttle goroutine per ActorSystem that nothing stops.
	leaktest.VerifyTestMain(m)
}
