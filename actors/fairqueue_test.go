package actors

import (
	"fmt"
	"testing"

	"github.com/jobsched/jobsched/persistence"
	"github.com/stretchr/testify/require"
)

func fj(key string, n int) *persistence.Job {
	return &persistence.Job{ID: fmt.Sprintf("%s%d", key, n), FairnessKey: key}
}

// drain pops every job and returns their ids in order.
func drain(q *fairQueue) []string {
	var ids []string
	for q.len() > 0 {
		next := q.peek()
		if got := q.pop(); got == next {
			ids = append(ids, got.ID)
		} else {
			ids = append(ids, "pop "+got.ID+" is not peek "+next.ID)
		}
	}
	return ids
}

func TestFairQueueServesKeysRoundRobinAndEachKeyInOrder(t *testing.T) {
	q := newFairQueue()
	for i := 0; i < 5; i++ {
		q.push(fj("a", i))
	}
	q.push(fj("b", 0))
	q.push(fj("c", 0))
	q.push(fj("c", 1))
	require.Equal(t, 8, q.len())
	require.Equal(t, 5, q.count("a"))
	require.Equal(t, 0, q.count("zz"))
	require.Equal(t, []string{"a0", "b0", "c0", "a1", "c1", "a2", "a3", "a4"}, drain(q))
	require.Nil(t, q.peek())
	require.Nil(t, q.pop())
	require.Empty(t, q.keys)
}

func TestFairQueueANewKeyWaitsAtMostOneJobPerKey(t *testing.T) {
	q := newFairQueue()
	for i := 0; i < 10_000; i++ {
		q.push(fj("a", i))
	}
	q.pop()
	q.pop()
	q.push(fj("b", 0)) // arrives behind a's backlog
	require.Equal(t, "a2", q.pop().ID)
	require.Equal(t, "b0", q.pop().ID, "b is served after one more job of a, not after its backlog")
	require.Equal(t, 0, q.count("b"))
	require.Equal(t, "a3", q.pop().ID)
}

func TestFairQueuePushFrontGoesToTheFrontOfItsKey(t *testing.T) {
	q := newFairQueue()
	q.push(fj("a", 1))
	q.push(fj("b", 0))
	q.push(fj("a", 2))
	a1 := q.pop() // a1 handed out, b next
	q.pushFront(a1)
	// a1 is back at the front of a; b keeps its turn.
	require.Equal(t, []string{"b0", "a1", "a2"}, drain(q))

	// A key absent from the round that gets a job back is served next.
	q.push(fj("a", 0))
	q.push(fj("a", 1))
	q.pushFront(fj("c", 0))
	require.Equal(t, []string{"c0", "a0", "a1"}, drain(q))
}

func TestFairQueueWithoutKeysIsAPlainFifo(t *testing.T) {
	q := newFairQueue()
	var want []string
	for i := 0; i < 3000; i++ { // past the compaction threshold
		q.push(fj("", i))
		want = append(want, fmt.Sprint(i))
		if i%3 == 2 {
			got := q.pop()
			require.Equal(t, want[0], got.ID)
			want = want[1:]
		}
	}
	require.Equal(t, want, drain(q))
}

func TestFairQueueServesAWeightedKeyItsWeightPerTurn(t *testing.T) {
	q := newFairQueue()
	q.weights = map[string]int{"a": 3, "c": 1}
	for i := 0; i < 7; i++ {
		q.push(fj("a", i))
		q.push(fj("b", i))
	}
	require.Equal(t, []string{"a0", "a1", "a2", "b0", "a3", "a4", "a5", "b1", "a6", "b2", "b3", "b4", "b5", "b6"}, drain(q))

	// A weighted key that runs dry leaves the round; back, it starts a full turn.
	q.push(fj("a", 0))
	q.push(fj("b", 0))
	q.push(fj("b", 1))
	require.Equal(t, "a0", q.pop().ID)
	q.push(fj("a", 1))
	q.push(fj("a", 2))
	require.Equal(t, []string{"b0", "a1", "a2", "b1"}, drain(q))

	// Under a backlog, a key of weight 3 gets three times the starts of a key of weight 1.
	for i := 0; i < 1000; i++ {
		q.push(fj("a", i))
		q.push(fj("b", i))
	}
	n := map[string]int{}
	for i := 0; i < 400; i++ {
		n[q.pop().FairnessKey]++
	}
	require.Equal(t, map[string]int{"a": 300, "b": 100}, n)
}

// BenchmarkFairQueue pushes and pops jobs over 1 or 100 keys, against a plain slice queue.
func BenchmarkFairQueue(b *testing.B) {
	for _, keys := range []int{1, 100} {
		jobs := make([]*persistence.Job, 1024)
		for i := range jobs {
			jobs[i] = fj(fmt.Sprint("t", i%keys), i)
		}
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			q := newFairQueue()
			for i := 0; i < b.N; i++ {
				q.push(jobs[i%len(jobs)])
				if q.len() > 512 {
					q.pop()
				}
			}
		})
	}
	b.Run("slice", func(b *testing.B) {
		var q []*persistence.Job
		head := 0
		j := fj("", 0)
		for i := 0; i < b.N; i++ {
			q = append(q, j)
			if len(q)-head > 512 {
				q[head] = nil
				head++
				if head > 1024 && head*2 > len(q) {
					q = append([]*persistence.Job(nil), q[head:]...)
					head = 0
				}
			}
		}
	})
}
