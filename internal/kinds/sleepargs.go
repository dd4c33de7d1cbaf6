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
		num := string(b[i:n])
		var err error
		switch string(key) {
		case "ms":
			a.MS, err = strconv.ParseFloat(num, 64)
		case "fail_rate":
			a.FailRate, err = strconv.ParseFloat(num, 64)
		case "panic_rate":
			a.PanicRate, err = strconv.ParseFloat(num, 64)
		case "seed":
			a.Seed, err = strconv.ParseUint(num, 10, 64)
		default:
			return a, false
		}
		if err != nil {
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
