package persistence

// A job id that is a UUID in canonical text form (36 characters, lowercase hex and four dashes:
// the ids jobsched makes, UUIDv7) is stored in a q/ value as its 16 bytes (keys.go): every job
// writes two such values (its insert and its start), so that is 40 bytes fewer per job through
// badger's log, memtable, flush and compaction. Any other id is stored as text.

// uuidDashes are the places of the dashes in a UUID's canonical text.
var uuidDashes = [4]int{8, 13, 18, 23}

// appendUUID appends the 16 bytes of id and reports true if id is a UUID in canonical text form
// (lowercase); else it returns b unchanged and false. uuidText(those bytes) == id.
func appendUUID(b []byte, id string) ([]byte, bool) {
	if len(id) != 36 {
		return b, false
	}
	for _, i := range uuidDashes {
		if id[i] != '-' {
			return b, false
		}
	}
	n := len(b)
	for i := 0; i < 36; i += 2 {
		if id[i] == '-' {
			i++
		}
		hi, ok1 := hexValue(id[i])
		lo, ok2 := hexValue(id[i+1])
		if !ok1 || !ok2 {
			return b[:n], false
		}
		b = append(b, hi<<4|lo)
	}
	return b, true
}

// hexValue is the value of a lowercase hex digit.
func hexValue(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// uuidText is the canonical text form of a UUID's 16 bytes.
func uuidText(u []byte) string {
	const digits = "0123456789abcdef"
	var t [36]byte
	k := 0
	for i, c := range u[:16] {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			t[k] = '-'
			k++
		}
		t[k], t[k+1] = digits[c>>4], digits[c&15]
		k += 2
	}
	return string(t[:])
}
