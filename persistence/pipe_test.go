package persistence

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// pipeRun is a pipe of its own on a store, fed by the test as the writer feeds it: batches whose
// commits the test applies (fires their callbacks) when and in the order it likes. It records
// the order in which requests are answered.
type pipeRun struct {
	p        *pipe
	mu       sync.Mutex
	answered []string
}

func newPipeRun(t *testing.T, s *Badger) *pipeRun {
	pr := &pipeRun{p: newPipe(s)}
	t.Cleanup(pr.p.close)
	return pr
}

// batch sends a batch of requests (ids, durable or not) whose one commit is returned unapplied.
func (pr *pipeRun) batch(durable bool, ids ...string) (*commitWait, []*request) {
	c := &commitWait{done: make(chan struct{})}
	var reqs []*request
	for _, id := range ids {
		reqs = append(reqs, &request{id: id, durable: durable, done: func(r *request) {
			pr.mu.Lock()
			defer pr.mu.Unlock()
			pr.answered = append(pr.answered, r.id)
		}})
	}
	pr.p.send(landing{answered: reqs, commits: []*commitWait{c}})
	return c, reqs
}

func (pr *pipeRun) order() []string {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return append([]string(nil), pr.answered...)
}

// Badger applies commits in order, but runs their callbacks on goroutines of their own, in any
// order: a batch is answered only once it and every batch before it is applied.
func TestThePipeAnswersInCommitOrder(t *testing.T) {
	s, err := OpenBadger(BadgerOptions{})
	require.NoError(t, err)
	defer s.Close()
	pr := newPipeRun(t, s)

	c1, _ := pr.batch(false, "a1", "a2")
	c2, _ := pr.batch(false, "b")
	c3, _ := pr.batch(true, "c")
	pr.p.committed(c3, nil) // the last one's callback first
	pr.p.committed(c2, nil)
	require.Empty(t, pr.order(), "nothing is answered before the first batch is applied")
	require.Equal(t, int64(4), pr.p.held.Load())
	pr.p.committed(c1, nil)
	require.Eventually(t, func() bool { return len(pr.order()) == 4 }, testWait, testTick)
	require.Equal(t, []string{"a1", "a2", "b", "c"}, pr.order())
	require.NoError(t, s.Err())
}

// A commit that fails fails the store, and the batches committed after it (planned before the
// failure was known) fail too: none is acknowledged, though badger applied them.
func TestACommitThatFailsLateFailsTheBatchesAfterIt(t *testing.T) {
	s, err := OpenBadger(BadgerOptions{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer s.Close()
	pr := newPipeRun(t, s)

	c0, ok := pr.batch(false, "ok")
	pr.p.committed(c0, nil)
	c1, first := pr.batch(true, "failed")
	c2, second := pr.batch(false, "after")
	pr.p.committed(c2, nil) // badger applied the later batch
	pr.p.committed(c1, errors.New("write vlog: input/output error"))
	pr.p.drain()
	require.Equal(t, []string{"ok", "failed", "after"}, pr.order())
	require.NoError(t, ok[0].err)
	require.ErrorIs(t, first[0].err, ErrStoreFailed)
	require.ErrorIs(t, second[0].err, ErrStoreFailed)
	require.ErrorIs(t, s.Err(), ErrStoreFailed)
	_, err = s.Insert(context.Background(), []*Job{queuedJob("x")})
	require.ErrorIs(t, err, ErrStoreFailed, "nothing more is written")
}

// The writer opens no badger transaction for requests it plans from its caches (a start of a
// cached job): it plans them while badger applies the previous commit. A request that must
// read the store opens one, which sees the writes held for the commit so far.
func TestTheWriterOpensATransactionOnlyToRead(t *testing.T) {
	s, err := OpenBadger(BadgerOptions{})
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	_, err = s.Insert(ctx, []*Job{queuedJob("a")}) // cached as queued
	require.NoError(t, err)
	s.pipe.drain()

	g := &group{s: s, t: s.newWtxn()}
	start := &request{id: "a", fn: func(j *Job) error { j.State = StateRunning; return nil }, done: func(*request) {}}
	g.add(start, 1<<40)
	require.NoError(t, start.err)
	require.Nil(t, g.t.txn, "a start of a cached job reads no store")
	require.NotEmpty(t, g.t.held)

	u1 := queuedJob("u1")
	u1.UniqueKey = "k"
	in1 := &request{inserts: []*Job{u1}, encoded: [][]byte{encodeJob(u1)}, durable: true, done: func(*request) {}}
	g.add(in1, 1<<40)
	require.NoError(t, in1.err)
	require.NotNil(t, g.t.txn, "a unique key is read from the store")
	require.Empty(t, g.t.held, "the held writes went into the transaction")

	u2 := queuedJob("u2")
	u2.UniqueKey = "k"
	in2 := &request{inserts: []*Job{u2}, encoded: [][]byte{encodeJob(u2)}, durable: true, done: func(*request) {}}
	g.add(in2, 1<<40)
	require.NoError(t, in2.err)
	require.True(t, in2.insertRes[0].Duplicate, "the read saw the key taken earlier in the same commit")
	require.Equal(t, "u1", in2.insertRes[0].Job.ID)

	g.flush()
	s.pipe.send(landing{answered: g.answered, commits: g.commits})
	s.pipe.drain()
	j, err := s.Get(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, StateRunning, j.State)
	_, err = s.Get(ctx, "u2")
	require.ErrorIs(t, err, ErrNotFound)
}
