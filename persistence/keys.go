package persistence

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
)

// The key layout. Every index key is a pure function of the job record (indexKeys), so the
// writer keeps indexes true by deleting the keys a job no longer has and setting the new ones;
// but for w/: a pending job waiting for one parent has none (depends.go, countInsert and
// setWaiting drop it).
//
//	j/<id>                          the job record (codec.go); ids are UUIDv7, so j/ sorts by creation
//	q/<category>\x00<seq:8 BE>      queued and running jobs of a category in FIFO order;
//	                                value = 'q' or 'r' (queued, running) + id
//	s/<run_at unix ns:8 BE><id>     scheduled and retrying jobs in time order; value = state/category
//	u/<unique_key>                  the unfinished job holding a unique key; value = id
//	w/<id>                          a pending job (waiting for its parents); value = category, and
//	                                when it waits for more than one parent \x00 and their count
//	                                (uvarint): a w/ key without a count, or none at all (as a
//	                                child waiting for one parent has since session 6), waits for
//	                                one parent
//	n/<id>                          the count of a store written before it moved into w/ (uvarint;
//	                                such a store may hold a count of one); still read, never written
//	d/<parent id>\x00<child id>     a dependency; value empty while the parent is unfinished,
//	                                dependDone once its finish was applied to the child (depends.go)
//	d/<parent id>\x00<child id>\x00 the children of parent from one insert, the first in the key;
//	                                value a flag (open, done) and their ids (dependlists.go)
//
// A job keeps its q/ key from its insert (or promotion) to its finish: a start rewrites the key's
// value to mark it running instead of deleting it and adding a running index key, so a job's life
// writes 6 entries, not 7. Queued skips the running ones (few: at most the workers), and Running
// is answered from memory (the running ids, read from q/ at start-up and kept by the writer).
//
// Category names never contain 0x00 or '/' (the scheduler validates them), so a category's q/
// prefix never matches another's, and "state/category" splits at its first '/'. Start-up counts
// the unfinished jobs and reads the waiting and running ones from the index keys and values
// alone, decoding only the records of the pending children without a w/ key (named by open d/
// keys: countUnindexedPending). Finished jobs carry only j/, written with the retention TTL.
// The layout before record version 2 (with r/<id> keys) is not read.
const (
	prefixJob       = "j/"
	prefixQueued    = "q/"
	prefixScheduled = "s/"
	prefixUnique    = "u/"
	prefixPending   = "w/"
	prefixDepends   = "d/"
	prefixWaiting   = "n/"
)

// The first byte of a q/ value.
const (
	tagQueued  = 'q'
	tagRunning = 'r'
)

func jobKey(id string) []byte { return append([]byte(prefixJob), id...) }

func queuePrefix(category string) []byte {
	k := make([]byte, 0, len(prefixQueued)+len(category)+1)
	k = append(k, prefixQueued...)
	k = append(k, category...)
	return append(k, 0)
}

func queueKey(category string, seq uint64) []byte {
	k := make([]byte, 0, len(prefixQueued)+len(category)+1+8)
	k = append(append(append(k, prefixQueued...), category...), 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

func scheduledKey(runAt time.Time, id string) []byte {
	k := make([]byte, 0, len(prefixScheduled)+8+len(id))
	k = append(k, prefixScheduled...)
	k = binary.BigEndian.AppendUint64(k, uint64(runAt.UnixNano()))
	return append(k, id...)
}

func uniqueKey(key string) []byte { return append([]byte(prefixUnique), key...) }

func pendingKey(id string) []byte { return append([]byte(prefixPending), id...) }

func waitingKey(id string) []byte { return append([]byte(prefixWaiting), id...) }

// pendingValue is the value of a pending job's w/ key: its category, and its count of parents
// not finished when above one.
func pendingValue(cat string, n uint64) []byte {
	b := append(make([]byte, 0, len(cat)+4), cat...)
	if n > 1 {
		b = binary.AppendUvarint(append(b, 0), n)
	}
	return b
}

// parsePendingValue splits the value of a w/ key; n is 1 when it holds no count.
func parsePendingValue(v []byte) (cat string, n uint64, err error) {
	i := bytes.IndexByte(v, 0)
	if i < 0 {
		return string(v), 1, nil
	}
	n, k := binary.Uvarint(v[i+1:])
	if k <= 0 || i+1+k != len(v) || n < 2 {
		return "", 0, fmt.Errorf("corrupt pending value %q", v)
	}
	return string(v[:i]), n, nil
}

// dependPrefix is the prefix of a parent's d/ keys.
func dependPrefix(parent string) []byte {
	return append(append([]byte(prefixDepends), parent...), 0)
}

func dependKey(parent, child string) []byte { return append(dependPrefix(parent), child...) }

// indexEntry is one index key of a job and its value.
type indexEntry struct {
	key, value []byte
}

// indexKeys appends to out the index keys a job in its current state must have, with their
// values if values is set (a key to delete needs none).
func indexKeys(out []indexEntry, j *Job, values bool) []indexEntry {
	var e indexEntry
	switch j.State {
	case StateQueued:
		e.key = queueKey(j.Category, j.Seq)
		if values {
			e.value = queuedValue(j.ID)
		}
	case StateRunning:
		e.key = queueKey(j.Category, j.Seq)
		if values {
			e.value = runningValue(j)
		}
	case StateScheduled, StateRetrying:
		e.key = scheduledKey(j.RunAt, j.ID)
		if values {
			e.value = indexValue(j)
		}
	case StatePending:
		e.key = pendingKey(j.ID)
		if values {
			e.value = []byte(j.Category)
		}
	}
	if e.key != nil {
		out = append(out, e)
	}
	if j.UniqueKey != "" && !j.State.Finished() {
		e = indexEntry{key: uniqueKey(j.UniqueKey)}
		if values {
			e.value = []byte(j.ID)
		}
		out = append(out, e)
	}
	return out
}

// queuedValue is the value of a queued job's q/ key: 'q' and its id.
func queuedValue(id string) []byte {
	return append(append(make([]byte, 0, 1+len(id)), tagQueued), id...)
}

// runningValue is the value of a running job's q/ key: 'r', its id, and what a start changes in
// its record (attempt, started_at, cancel_requested), so that a start need not rewrite the record
// (see startOnly).
func runningValue(j *Job) []byte {
	b := make([]byte, 0, 24+len(j.ID))
	b = appendString(append(b, tagRunning), j.ID)
	b = binary.AppendUvarint(b, uint64(j.Attempt))
	b = appendOptTime(b, j.StartedAt, 0)
	return appendBool(b, j.CancelRequested)
}

// queueEntry is a q/ value read back.
type queueEntry struct {
	running bool
	id      string
	// A running job's start: its attempt, started_at and cancel_requested.
	attempt   int
	startedAt *time.Time
	cancel    bool
}

// parseQueueValue splits the value of a q/ key.
func parseQueueValue(v []byte) (queueEntry, error) {
	if len(v) >= 2 && v[0] == tagQueued {
		return queueEntry{id: string(v[1:])}, nil
	}
	if len(v) < 2 || v[0] != tagRunning {
		return queueEntry{}, fmt.Errorf("corrupt queue value %q", v)
	}
	d := &decoder{b: v[1:]}
	e := queueEntry{running: true, id: d.string(), attempt: int(d.uvarint()), startedAt: d.optTime(0), cancel: d.bool()}
	if d.err != nil || len(d.b) != 0 {
		return queueEntry{}, fmt.Errorf("corrupt queue value %q", v)
	}
	return e, nil
}

// applyStart gives j, whose record says queued, the start its q/ value holds, if any.
func (e queueEntry) applyStart(j *Job) {
	if e.running && e.id == j.ID {
		j.State, j.Attempt, j.StartedAt, j.CancelRequested = StateRunning, e.attempt, e.startedAt, e.cancel
	}
}

// indexValue is the value of a job's s/ key: "state/category".
func indexValue(j *Job) []byte { return []byte(string(j.State) + "/" + j.Category) }

// parseIndexValue splits the value of an s/ key.
func parseIndexValue(v []byte) (State, string, error) {
	i := bytes.IndexByte(v, '/')
	if i < 0 || !State(v[:i]).Valid() {
		return "", "", fmt.Errorf("corrupt index value %q", v)
	}
	return State(v[:i]), string(v[i+1:]), nil
}

// parseScheduledKey splits an s/ key into its run_at and id.
func parseScheduledKey(k []byte) (time.Time, string, error) {
	k = k[len(prefixScheduled):]
	if len(k) <= 8 {
		return time.Time{}, "", fmt.Errorf("corrupt scheduled key %q", k)
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(k[:8]))).UTC(), string(k[8:]), nil
}
