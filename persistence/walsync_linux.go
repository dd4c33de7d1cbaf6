package persistence

import (
	"os"
	"syscall"
)

// datasync writes f's data (and the metadata needed to read it back) to disk, as badger's msync
// of its mapping does.
func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
