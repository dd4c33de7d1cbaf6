package persistence

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// walSync syncs badger's logs, the memtables' write-ahead logs (NNNNN.mem) and the value log
// (NNNNNN.vlog), through file descriptors of its own, instead of DB.Sync. DB.Sync holds badger's
// db.lock (read) for the whole msync of the memtable's log, and badger's write goroutine takes
// that lock (write) before it applies each commit, and while it waits every new reader
// (a Get, an iterator) waits too: so each sync stopped every commit and every read for as long
// as the disk took, and a job's insert, which its Fifo gets as soon as it is applied (before
// its sync), waited for the sync of the batch before it. On a disk busy with other writes a
// sync takes 50-400 ms, and that was the p99 of enqueue-to-start at 10,000 jobs/s
// (docs/benchmarks.md, "Session 5: the 10,000/s tail").
//
// An fdatasync of another descriptor of a file writes the same page cache, the pages dirtied
// through badger's mapping included, as badger's msync does. It also covers what DB.Sync
// missed: DB.Sync syncs only the current memtable's log, so a commit applied just before the
// memtable filled, whose log was then no longer the current one, was answered with its log
// unsynced until badger flushed that memtable to a table. walSync syncs every memtable log still
// on disk (badger deletes one only once its table is written and synced), and each value log
// from the newest it synced before, and syncs the directory once it finds a new file.
//
// Badger numbers its memtable logs and value log files in sequence; walSync lists the directory
// at each sync and opens those numbered past the newest it knows (numbers may be skipped: a log
// created and deleted between two syncs). Owned by the syncer goroutine.
type walSync struct {
	dir   string
	mems  map[uint64]*os.File // the memtable logs opened, by number
	vlogs map[uint64]*os.File // the value log files opened, by number
	// nextMem and nextVlog are the numbers to look for next.
	nextMem, nextVlog uint64
}

// newWALSync opens the logs badger has in dir (called once badger is open).
func newWALSync(dir string) (*walSync, error) {
	if !ownLogSync {
		return nil, errors.New("badger's logs are synced through DB.Sync on this system")
	}
	w := &walSync{dir: dir, mems: map[uint64]*os.File{}, vlogs: map[uint64]*os.File{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list badger's logs: %w", err)
	}
	var maxVlog uint64
	haveVlog := false
	for _, e := range entries {
		if fid, ok := logNumber(e.Name(), ".mem"); ok {
			if err := w.open(w.mems, fid, w.memPath(fid)); err != nil {
				w.close()
				return nil, err
			}
			w.nextMem = max(w.nextMem, fid+1)
		}
		if fid, ok := logNumber(e.Name(), ".vlog"); ok && (!haveVlog || fid > maxVlog) {
			maxVlog, haveVlog = fid, true
		}
	}
	if len(w.mems) == 0 || !haveVlog {
		w.close()
		return nil, fmt.Errorf("badger's logs not found in %s", dir)
	}
	// The older value log files are complete: a previous sync (or badger's close) synced them.
	if err := w.open(w.vlogs, maxVlog, w.vlogPath(maxVlog)); err != nil {
		w.close()
		return nil, err
	}
	w.nextVlog = maxVlog + 1
	return w, nil
}

// logNumber parses badger's log file name NUMBER+ext.
func logNumber(name, ext string) (uint64, bool) {
	num, ok := strings.CutSuffix(name, ext)
	if !ok {
		return 0, false
	}
	fid, err := strconv.ParseUint(num, 10, 64)
	return fid, err == nil
}

func (w *walSync) memPath(fid uint64) string {
	return filepath.Join(w.dir, fmt.Sprintf("%05d.mem", fid))
}

func (w *walSync) vlogPath(fid uint64) string {
	return filepath.Join(w.dir, fmt.Sprintf("%06d.vlog", fid))
}

// open opens the log file at path into files, under its number.
func (w *walSync) open(files map[uint64]*os.File, fid uint64, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open badger's log: %w", err)
	}
	files[fid] = f
	return nil
}

// discover lists the directory and opens the log files badger created since the last look
// (numbered from next on): it tells whether it found one. It lists rather than guessing the
// next number: badger may have created, flushed and deleted a memtable log between two looks
// (a reader holding an older memtable keeps that one on disk meanwhile), and its current log
// is then numbered past a gap.
func (w *walSync) discover() (bool, error) {
	entries, err := os.ReadDir(w.dir)
	if err != nil {
		return false, fmt.Errorf("list badger's logs: %w", err)
	}
	found, haveMem := false, false
	nextMem, nextVlog := w.nextMem, w.nextVlog
	for _, e := range entries {
		files, from, next, path := w.mems, w.nextMem, &nextMem, w.memPath
		fid, ok := logNumber(e.Name(), ".mem")
		if ok {
			haveMem = true
		} else if fid, ok = logNumber(e.Name(), ".vlog"); ok {
			files, from, next, path = w.vlogs, w.nextVlog, &nextVlog, w.vlogPath
		} else {
			continue
		}
		if fid < from { // known already (open, or done with)
			continue
		}
		f, err := os.Open(path(fid))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since the listing: a memtable log once its table is synced
		}
		if err != nil {
			return found, fmt.Errorf("open badger's log: %w", err)
		}
		files[fid] = f
		*next = max(*next, fid+1)
		found = true
	}
	if !haveMem {
		return found, fmt.Errorf("badger's current memtable log not found in %s", w.dir)
	}
	w.nextMem, w.nextVlog = nextMem, nextVlog
	return found, nil
}

// sync makes durable every commit badger applied before it was called.
func (w *walSync) sync() error {
	found, err := w.discover()
	if err != nil {
		return err
	}
	if found {
		if err := syncDir(w.dir); err != nil {
			return err
		}
	}
	for _, f := range w.mems {
		if err := datasync(f); err != nil {
			return fmt.Errorf("sync %s: %w", f.Name(), err)
		}
	}
	newest := w.nextVlog - 1
	for fid, f := range w.vlogs {
		if err := datasync(f); err != nil {
			return fmt.Errorf("sync %s: %w", f.Name(), err)
		}
		if fid != newest { // complete, and synced now
			_ = f.Close() // read-only descriptor: nothing to lose
			delete(w.vlogs, fid)
		}
	}
	// A memtable log badger deleted (its table is written and synced) needs no more syncs.
	for fid, f := range w.mems {
		if fid == w.nextMem-1 {
			continue
		}
		if _, err := os.Stat(f.Name()); errors.Is(err, fs.ErrNotExist) {
			_ = f.Close() // read-only descriptor: nothing to lose
			delete(w.mems, fid)
		}
	}
	return nil
}

// syncDir syncs the directory's entries (a new log file's name).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// close closes every descriptor.
func (w *walSync) close() {
	for _, files := range []map[uint64]*os.File{w.mems, w.vlogs} {
		for fid, f := range files {
			_ = f.Close() // read-only descriptor: nothing to lose
			delete(files, fid)
		}
	}
}
