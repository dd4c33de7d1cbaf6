//go:build !linux

package persistence

import "os"

// ownLogSync is false off Linux: that an fsync of another descriptor writes the pages dirtied
// through badger's mapping is checked on Linux only (and Windows needs write access to flush a
// file, and refuses to delete an open one); the store calls DB.Sync there.
const ownLogSync = false

// datasync writes f to disk.
func datasync(f *os.File) error { return f.Sync() }
