// Package iox holds small I/O helpers shared by the HTTP server and its client.
package iox

import "io"

// maxPrealloc bounds the room ReadAll takes ahead of a read on the word of a length.
const maxPrealloc = 64 << 20

// ReadAll is io.ReadAll starting with room for size bytes (a known Content-Length), so that a
// large body is not copied as it grows. A size below zero or above 64 MiB is not trusted: the
// read then grows as io.ReadAll's does. The length is a hint; the reader decides the end.
func ReadAll(r io.Reader, size int64) ([]byte, error) {
	if size < 0 || size > maxPrealloc {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, size+1) // +1: the read that meets the end needs no room of its own
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}
