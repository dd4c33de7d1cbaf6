package persistence

import (
	"fmt"
	"syscall"
)

// freeBytes is the free space of the store's disk (-1 when unknown or in memory).
func (s *Badger) freeBytes() int64 {
	if s.opt.Dir == "" {
		return -1
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.opt.Dir, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
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
