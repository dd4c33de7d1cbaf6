package persistence

// listScanLimit bounds the records one List call reads on badger. A filter that matches few of
// a million stored jobs would otherwise read them all for one page (about 1.4 s): past this many
// records List returns the page it has, maybe short or empty, with a cursor at the last record it
// read, and the next call goes on from there. Each call stays a few milliseconds long.
const listScanLimit = 10_000

// listPeek is what List filters on, read from a record without decoding it (peekJob).
type listPeek struct {
	kind, category []byte
	state          State
}

// peekJob reads a record's kind, category and state, in the order appendJob writes them, and
// copies nothing.
func peekJob(b []byte) (listPeek, bool) {
	if len(b) == 0 || (b[0] != recordVersion && b[0] != 2) {
		return listPeek{}, false
	}
	d := &decoder{b: b[1:]}
	d.uvarint() // created_at
	var p listPeek
	p.kind = d.take(d.uvarint())
	p.category = d.take(d.uvarint())
	if n := d.uvarint(); n > 0 { // args
		d.take(n - 1)
	}
	c := d.take(1)
	if d.err != nil || len(c) != 1 || int(c[0]) >= len(stateCodes) {
		return listPeek{}, false
	}
	p.state = stateCodes[c[0]]
	return p, true
}

// skips tells that a record cannot match opt, from its peek alone. A record that says queued
// may be running (its start is in its q/ key), so for a queued or running filter it needs the
// full read.
func (p listPeek) skips(opt ListOptions) bool {
	if opt.Category != "" && string(p.category) != opt.Category {
		return true
	}
	if opt.Kind != "" && string(p.kind) != opt.Kind {
		return true
	}
	if opt.State == "" || p.state == opt.State {
		return false
	}
	return !(p.state == StateQueued && opt.State == StateRunning)
}
