// Package leaktest holds the goroutine-leak checks every package's TestMain runs.
package leaktest

import (
	"testing"

	"go.uber.org/goleak"
)

// Ignore lists the goroutines our dependencies start and never stop; they are not ours to end.
var Ignore = []goleak.Option{
	// protoactor-go starts one dead-letter throttle goroutine per ActorSystem and never stops it.
	goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
	// badger's process-wide caches and glog start goroutines once.
	goleak.IgnoreAnyFunction("github.com/golang/glog.(*fileSink).flushDaemon"),
	goleak.IgnoreTopFunction("github.com/dgraph-io/ristretto/v2.(*defaultPolicy[...]).processItems"),
	goleak.IgnoreTopFunction("github.com/dgraph-io/ristretto/v2.(*Cache[...]).processItems"),
	// Idle keep-alive connections of http.Transports (closed by their idle timeout).
	goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
	goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
}

// VerifyTestMain runs the tests, then fails if a goroutine of ours outlived them.
func VerifyTestMain(m *testing.M, extra ...goleak.Option) {
	goleak.VerifyTestMain(m, append(append([]goleak.Option{}, Ignore...), extra...)...)
}
