package actors

import "github.com/jobsched/jobsched/persistence"

// fairQueue is a Fifo's in-memory ready queue: one FIFO per fairness key, served round-robin
// (one job per key per turn), so a key with a long backlog delays another key's job by at most
// one job per other key with jobs. Jobs without a key share the "" key. A key joins the round
// at its end when it gets a job, and leaves it when it has none.
//
// A key may have a weight (weights; 1 when absent): a key of weight w is served up to w jobs in
// a row per turn (weighted round-robin), so under a backlog it gets w times the starts of a
// key of weight 1. Without weights every turn is one job, as before, at the cost of one compare.
type fairQueue struct {
	keys    map[string]*keyQueue
	cur     *keyQueue // the key served next; nil when the queue is empty
	n       int
	weights map[string]int // weights above 1, by key; nil: every key weighs 1
}

// keyQueue holds the jobs of one fairness key, jobs[head:] in order, and links the keys of the
// round in a ring.
type keyQueue struct {
	key        string
	jobs       []*persistence.Job
	head       int
	prev, next *keyQueue
	// weight is the jobs served per turn, left those still to serve in the current one.
	weight, left int
}

func newFairQueue() *fairQueue { return &fairQueue{keys: map[string]*keyQueue{}} }

// newKey returns the queue of a key joining the round, with its weight.
func (q *fairQueue) newKey(key string) *keyQueue {
	w := 1
	if v, ok := q.weights[key]; ok && v > 1 {
		w = v
	}
	k := &keyQueue{key: key, weight: w, left: w}
	q.keys[key] = k
	return k
}

// len is the number of jobs held.
func (q *fairQueue) len() int { return q.n }

// count is the number of jobs held for a fairness key.
func (q *fairQueue) count(key string) int {
	if k := q.keys[key]; k != nil {
		return len(k.jobs) - k.head
	}
	return 0
}

// keyCount is the number of keys with jobs.
func (q *fairQueue) keyCount() int { return len(q.keys) }

// push adds j at the back of its key's jobs; a key new to the round is served last in it.
func (q *fairQueue) push(j *persistence.Job) {
	k := q.keys[j.FairnessKey]
	if k == nil {
		k = q.newKey(j.FairnessKey)
		q.link(k, false)
	}
	k.jobs = append(k.jobs, j)
	q.n++
}

// pushFront adds j at the front of its key's jobs (a job taken back is older than the rest); a
// key new to the round is served next.
func (q *fairQueue) pushFront(j *persistence.Job) {
	k := q.keys[j.FairnessKey]
	if k == nil {
		k = q.newKey(j.FairnessKey)
		q.link(k, true)
	}
	if k.head > 0 {
		k.head--
		k.jobs[k.head] = j
	} else {
		k.jobs = append([]*persistence.Job{j}, k.jobs...)
	}
	q.n++
}

// link puts k in the round: before cur (served last), or as cur (served next).
func (q *fairQueue) link(k *keyQueue, next bool) {
	if q.cur == nil {
		k.prev, k.next = k, k
		q.cur = k
		return
	}
	k.next, k.prev = q.cur, q.cur.prev
	k.prev.next = k
	q.cur.prev = k
	if next {
		q.cur = k
	}
}

// peek returns the job served next, or nil.
func (q *fairQueue) peek() *persistence.Job {
	if q.cur == nil {
		return nil
	}
	return q.cur.jobs[q.cur.head]
}

// pop removes the job peek returns and passes the turn to the next key once the key has been
// served its weight's jobs in this turn.
func (q *fairQueue) pop() *persistence.Job {
	k := q.cur
	if k == nil {
		return nil
	}
	j := k.jobs[k.head]
	k.jobs[k.head] = nil
	k.head++
	q.n--
	if k.head == len(k.jobs) {
		// The key has no more jobs: it leaves the round.
		delete(q.keys, k.key)
		if k.next == k {
			q.cur = nil
		} else {
			k.prev.next, k.next.prev = k.next, k.prev
			q.cur = k.next
		}
		k.prev, k.next = nil, nil
		return j
	}
	if k.head > 1024 && k.head*2 > len(k.jobs) {
		k.jobs = append([]*persistence.Job(nil), k.jobs[k.head:]...)
		k.head = 0
	}
	if k.left > 1 {
		k.left-- // a weighted key keeps the turn
		return j
	}
	k.left = k.weight
	q.cur = k.next
	return j
}
