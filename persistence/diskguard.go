package persistence

import (
	"fmt"
	"syscall"
	"time"
)

// freeBytes is the free space of the store's disk (-1 when unknown or in memory): what statfs
// last said, less what the writer committed since. The writer asks at each commit; statfs runs
// at most every freeEvery, or once the commits since took an eighth of the reserve (a statfs a
// commit was ~20,000 syscalls for a burst of 100,000 jobs on a quiet machine). Badger's own
// writes behind the commits (flushes, compactions) were never counted: the reserve covers them.
// Owned by the writer goroutine.
func (s *Badger) freeBytes() int64 {
	if s.opt.Dir == "" {
		return -1
	}
	f := &s.free
	if now := time.Now(); f.at.IsZero() || now.Sub(f.at) >= freeEvery || f.spent >= s.opt.MinFreeBytes/8 {
		var st syscall.Statfs_t
		if err := syscall.Statfs(s.opt.Dir, &st); err != nil {
			*f = freeSpace{}
			return -1
		}
		*f = freeSpace{at: now, bytes: int64(st.Bavail) * int64(st.Bsize)}
	}
	return f.bytes - f.spent
}

// freeEvery is how long freeBytes trusts a statfs.
const freeEvery = 5 * time.Millisecond

// freeSpace is freeBytes' last statfs: when, the bytes free then, and the bytes the writer
// committed since.
type freeSpace struct {
	at           time.Time
	bytes, spent int64
}

// checkRoom refuses a write when the disk is below its reserve: inserts below MinFreeBytes,
// anything below a quarter of it (finishing the jobs already stored needs a little room).
func (s *Badger) checkRoom(r *request, free int64) error {
	if free < 0 {
		return nil
	}
	limit := s.opt.MinFreeBytes
	if r.inserts == nil {
		limit /= 4
	}
	if free < limit {
		return fmt.Errorf("%w: %d bytes free on the store's disk, %d kept in reserve", ErrDiskFull, free, limit)
	}
	return nil
}
