package persistence

import (
	"os"
	"syscall"
)

// ownLogSync tells that walSync may sync badger's logs: on Linux msync(MS_SYNC) of a shared
// mapping is an fdatasync of the file's range, and any descriptor of the file reaches the same
// page cache.
const ownLogSync = true

// datasync writes f's data (and the metadata needed to read it back) to disk, as badger's msync
// of its mapping does.
func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
