//go:build !linux

package persistence

import "os"

// datasync writes f to disk.
func datasync(f *os.File) error { return f.Sync() }
