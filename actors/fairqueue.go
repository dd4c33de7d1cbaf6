package actors

import "github.com/jobsched/jobsched/persistence"

// fairQueue is a Fifo's in-memory ready queue: one FIFO per fairness key, served round-robin
// (one job per key per turn), so a key with a long backlog delays another key's job by at most
// one job per other key with jobs. Jobs without a key share the "" key. A key joins the round
// at its end when it gets a job, and leaves it when it has none.
type fairQueue struct {
	keys map[string]*keyQueue
	cur  *keyQueue // the key served next; nil when the queue is empty
	n    int
}

// keyQueue holds the jobs of one fairness key, jobs[head:] in order, and links the keys of the
// round in a ring.
type keyQueue struct {
	key        string
	jobs       []*persistence.Job
	head       int
	prev, next *keyQueue
}

func newFairQueue() *fairQueue { return &fairQueue{keys: map[string]*keyQueue{}} }

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
		k = &keyQueue{key: j.FairnessKey}
		q.keys[j.FairnessKey] = k
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
		k = &keyQueue{key: j.FairnessKey}
		q.keys[j.FairnessKey] = k
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

// pop removes the job peek returns and passes the turn to the next key.
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
	q.cur = k.next
	return j
}
