package supervision

import (
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// protoactor-go registers a spawned actor's PID (ProcessRegistry.Add) before it gives the
// mailbox its dispatcher (RegisterHandlers). A message sent by name in between, to a child
// spawned again under its name (a sibling restarted by rest_for_one or one_for_all, the children
// of a restarted supervisor), makes defaultMailbox.schedule dereference a nil dispatcher: the
// sender panics, and the mailbox, marked running by then, never runs again (the actor would
// never start). guardedMailbox holds what arrives before the mailbox starts and posts it, in
// order, once it has: after the actor's Started, which protoactor-go posts just before Start.
type guardedMailbox struct {
	inner actor.Mailbox
	ready atomic.Bool
	mu    sync.Mutex
	early []earlyMessage // arrived before RegisterHandlers
}

type earlyMessage struct {
	msg    any
	system bool
}

// guardedMailboxes produces the mailbox of every supervised child: protoactor-go's unbounded
// one, guarded.
func guardedMailboxes() actor.Mailbox { return &guardedMailbox{inner: actor.Unbounded()()} }

// hold keeps a message that arrived before the handlers, and reports whether it did.
func (m *guardedMailbox) hold(msg any, system bool) bool {
	if m.ready.Load() {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ready.Load() {
		return false
	}
	m.early = append(m.early, earlyMessage{msg: msg, system: system})
	return true
}

// PostUserMessage implements actor.Mailbox.
func (m *guardedMailbox) PostUserMessage(msg any) {
	if !m.hold(msg, false) {
		m.inner.PostUserMessage(msg)
	}
}

// PostSystemMessage implements actor.Mailbox. The actor's Started, which the spawner posts
// once the handlers are in, goes first.
func (m *guardedMailbox) PostSystemMessage(msg any) {
	if _, started := msg.(*actor.Started); started || !m.hold(msg, true) {
		m.inner.PostSystemMessage(msg)
	}
}

// RegisterHandlers implements actor.Mailbox.
func (m *guardedMailbox) RegisterHandlers(invoker actor.MessageInvoker, dispatcher actor.Dispatcher) {
	m.inner.RegisterHandlers(invoker, dispatcher)
}

// Start implements actor.Mailbox: the mailbox starts, then what arrived before it goes in.
func (m *guardedMailbox) Start() {
	m.inner.Start()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.early {
		if e.system {
			m.inner.PostSystemMessage(e.msg)
		} else {
			m.inner.PostUserMessage(e.msg)
		}
	}
	m.early = nil
	m.ready.Store(true)
}

// UserMessageCount implements actor.Mailbox.
func (m *guardedMailbox) UserMessageCount() int { return m.inner.UserMessageCount() }
