package persistence

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
)

// The key layout. Every index key is a pure function of the job record (indexKeys), so the
// writer keeps indexes true by deleting the keys a job no longer has and setting the new ones.
//
//	j/<id>                          the job record (JSON); ids are UUIDv7, so j/ sorts by creation
//	q/<category>\x00<seq:8 BE>      queued jobs of a category in FIFO order; value = id
//	s/<run_at unix ns:8 BE><id>     scheduled and retrying jobs in time order; value = state/category
//	r/<id>                          running jobs (returned to their queue at start-up); value = state/category
//	u/<unique_key>                  the unfinished job holding a unique key; value = id
//
// Category names never contain 0x00 or '/' (the scheduler validates them), so a category's q/
// prefix never matches another's, and "state/category" splits at its first '/'. Start-up counts
// the unfinished jobs and reads the waiting and running ones from the index keys and values
// alone, never decoding a record. Finished jobs carry only j/, written with the retention TTL.
const (
	prefixJob       = "j/"
	prefixQueued    = "q/"
	prefixScheduled = "s/"
	prefixRunning   = "r/"
	prefixUnique    = "u/"
)

func jobKey(id string) []byte { return append([]byte(prefixJob), id...) }

func queuePrefix(category string) []byte {
	k := make([]byte, 0, len(prefixQueued)+len(category)+1)
	k = append(k, prefixQueued...)
	k = append(k, category...)
	return append(k, 0)
}

func queueKey(category string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(queuePrefix(category), seq)
}

func scheduledKey(runAt time.Time, id string) []byte {
	k := make([]byte, 0, len(prefixScheduled)+8+len(id))
	k = append(k, prefixScheduled...)
	k = binary.BigEndian.AppendUint64(k, uint64(runAt.UnixNano()))
	return append(k, id...)
}

func runningKey(id string) []byte { return append([]byte(prefixRunning), id...) }

func uniqueKey(key string) []byte { return append([]byte(prefixUnique), key...) }

// indexEntry is one index key of a job and its value.
type indexEntry struct {
	key, value []byte
}

// indexKeys lists the index keys a job in its current state must have.
func indexKeys(j *Job) []indexEntry {
	var out []indexEntry
	switch j.State {
	case StateQueued:
		out = append(out, indexEntry{queueKey(j.Category, j.Seq), []byte(j.ID)})
	case StateScheduled, StateRetrying:
		out = append(out, indexEntry{scheduledKey(j.RunAt, j.ID), indexValue(j)})
	case StateRunning:
		out = append(out, indexEntry{runningKey(j.ID), indexValue(j)})
	}
	if j.UniqueKey != "" && !j.State.Finished() {
		out = append(out, indexEntry{uniqueKey(j.UniqueKey), []byte(j.ID)})
	}
	return out
}

// indexValue is the value of a job's s/ or r/ key: "state/category".
func indexValue(j *Job) []byte { return []byte(string(j.State) + "/" + j.Category) }

// parseIndexValue splits the value of an s/ or r/ key.
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
