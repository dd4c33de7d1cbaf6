package supervision

import (
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
)

type recordingInvoker struct{ got []any }

func (r *recordingInvoker) InvokeSystemMessage(m any) { r.got = append(r.got, m) }
func (r *recordingInvoker) InvokeUserMessage(m any)   { r.got = append(r.got, m) }
func (r *recordingInvoker) EscalateFailure(any, any)  {}

// A message that reaches a child's mailbox between its registration and its handlers (a send by
// name to a child being spawned again) makes protoactor-go's mailbox panic on a nil dispatcher;
// the guarded mailbox keeps it and delivers it, in order, after the actor's Started.
func TestAMessageBeforeTheHandlersIsKeptNotAPanic(t *testing.T) {
	raw := actor.Unbounded()()
	require.Panics(t, func() { raw.PostUserMessage("early") }, "protoactor-go's mailbox, unguarded")

	m := guardedMailboxes()
	require.NotPanics(t, func() {
		m.PostUserMessage("first")
		m.PostSystemMessage("sys")
		m.PostUserMessage("second")
	})
	inv := &recordingInvoker{}
	started := &actor.Started{}
	// protoactor-go's spawner: handlers, Started, Start.
	m.RegisterHandlers(inv, actor.NewSynchronizedDispatcher(300))
	m.PostSystemMessage(started)
	m.Start()
	m.PostUserMessage("third")
	require.Equal(t, []any{started, "first", "sys", "second", "third"}, inv.got, "Started first, then in order")
}
