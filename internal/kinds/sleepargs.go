package kinds

import "strconv"

// parseSleepFast reads sleep's args without reflection when they are a flat JSON object of
// numbers under sleep's own lower-case field names, as the tester and most callers write them.
// It reports false for anything else (other spellings, strings, null, nesting, a number that
// does not fit, trailing data): decodeArgs then reads the args and names what is wrong. On what
// it accepts it agrees with decodeArgs (FuzzSleepArgs checks it).
func parseSleepFast(b []byte) (SleepArgs, bool) {
	var a SleepArgs
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return a, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return a, skipSpace(b, i+1) == len(b)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return a, false
		}
		start := i + 1
		end := start
		for end < len(b) && b[end] != '"' && b[end] != '\\' && b[end] >= 0x20 && b[end] < 0x80 {
			end++
		}
		if end >= len(b) || b[end] != '"' {
			return a, false
		}
		key := b[start:end]
		i = skipSpace(b, end+1)
		if i >= len(b) || b[i] != ':' {
			return a, false
		}
		i = skipSpace(b, i+1)
		n := numberEnd(b, i)
		if n == i {
			return a, false
		}
		num := b[i:n]
		ok := false
		switch string(key) {
		case "ms":
			a.MS, ok = parseFloat(num)
		case "fail_rate":
			a.FailRate, ok = parseFloat(num)
		case "panic_rate":
			a.PanicRate, ok = parseFloat(num)
		case "seed":
			a.Seed, ok = parseUint(num)
		}
		if !ok {
			return a, false
		}
		i = skipSpace(b, n)
		if i >= len(b) {
			return a, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return a, skipSpace(b, i+1) == len(b)
		default:
			return a, false
		}
	}
}

// parseFloat reads a JSON number (numberEnd's span) as strconv.ParseFloat does. A short
// decimal without sign or exponent (at most 15 digits: the tester's 0, 0.25, 100) is read
// without allocating: float64(digits) / 10^fraction is exact or correctly rounded (both are
// exact in a float64, and one IEEE division rounds once), which is ParseFloat's own fast path.
func parseFloat(num []byte) (float64, bool) {
	var mant uint64
	frac, n := -1, 0
	for _, c := range num {
		switch {
		case c >= '0' && c <= '9':
			mant = mant*10 + uint64(c-'0')
			n++
			if frac >= 0 {
				frac++
			}
		case c == '.' && frac < 0:
			frac = 0
		default:
			n = 16 // a sign or an exponent: the general reader
		}
	}
	if n > 15 {
		f, err := strconv.ParseFloat(string(num), 64)
		return f, err == nil
	}
	return float64(mant) / pow10[max(frac, 0)], true
}

// pow10 holds the exact powers of ten parseFloat divides by.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// parseUint reads a JSON number (numberEnd's span) as strconv.ParseUint does: digits only (a
// sign, a fraction or an exponent is refused, as the JSON decoder refuses them for a uint64),
// without allocating when it has at most 19 digits (no overflow is possible).
func parseUint(num []byte) (uint64, bool) {
	if len(num) > 19 {
		u, err := strconv.ParseUint(string(num), 10, 64)
		return u, err == nil
	}
	var u uint64
	for _, c := range num {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	return u, len(num) > 0
}

// skipSpace returns the index of the first byte at or after i that is not JSON white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// numberEnd returns the end of the JSON number that starts at i, or i when none does:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func numberEnd(b []byte, i int) int {
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return start
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return start
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return start
		}
		i = j
	}
	return i
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}
