// Package jsonscan reads JSON in one pass, value by value, for the fast paths of the API's
// bodies (the daemon's enqueue decoder, the client's job-list decoder). It is strict and
// small: anything it does not handle plainly (an escaped key, a number with a fraction) it
// refuses, and its callers then hand the whole input to encoding/json, whose answer (or error)
// stands. So it must never accept what encoding/json refuses.
package jsonscan

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Scanner reads JSON from b at i.
type Scanner struct {
	b []byte
	i int
}

// New returns a Scanner at the start of b.
func New(b []byte) Scanner { return Scanner{b: b} }

// SkipWS skips white space.
func (s *Scanner) SkipWS() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// Peek is the byte at i, or 0 at the end.
func (s *Scanner) Peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// Next skips white space and then c; false (and nothing skipped but the white space) if c is
// not next.
func (s *Scanner) Next(c byte) bool {
	s.SkipWS()
	if s.Peek() != c {
		return false
	}
	s.i++
	return true
}

// End says whether only white space is left.
func (s *Scanner) End() bool {
	s.SkipWS()
	return s.i == len(s.b)
}

// Key reads the key name and its colon.
func (s *Scanner) Key(name string) bool {
	s.SkipWS()
	k, ok := s.PlainString()
	return ok && string(k) == name && s.Next(':')
}

// Count counts sub in what is left (a guess of the entries ahead, to size a slice).
func (s *Scanner) Count(sub string) int {
	return bytes.Count(s.b[s.i:], []byte(sub))
}

// PlainString reads a string without escapes, of valid UTF-8, and returns its bytes (in b).
func (s *Scanner) PlainString() ([]byte, bool) {
	if s.Peek() != '"' {
		return nil, false
	}
	start := s.i + 1
	ascii := true
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			v := s.b[start:j]
			return v, ascii || utf8.Valid(v)
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// String reads a string, escapes included (those through encoding/json).
func (s *Scanner) String() (string, bool) {
	start := s.i
	if v, ok := s.PlainString(); ok {
		return string(v), true
	}
	s.i = start
	if s.Peek() != '"' {
		return "", false
	}
	for j := start + 1; j < len(s.b); j++ {
		switch s.b[j] {
		case '\\':
			j++
		case '"':
			var v string
			if err := json.Unmarshal(s.b[start:j+1], &v); err != nil || !utf8.ValidString(v) {
				return "", false
			}
			s.i = j + 1
			return v, true
		}
	}
	return "", false
}

// Strings reads an array of strings (never null).
func (s *Scanner) Strings() ([]string, bool) {
	if s.Peek() != '[' {
		return nil, false
	}
	s.i++
	out := []string{}
	if s.Next(']') {
		return out, true
	}
	for {
		s.SkipWS()
		v, ok := s.String()
		if !ok {
			return nil, false
		}
		out = append(out, v)
		switch {
		case s.Next(','):
		case s.Next(']'):
			return out, true
		default:
			return nil, false
		}
	}
}

// PositiveInt reads an integer from 1 to 999,999,999 written plainly (no sign, exponent or
// fraction).
func (s *Scanner) PositiveInt() (int, bool) {
	if s.Peek() == '0' {
		return 0, false
	}
	return s.Uint()
}

// Uint reads an integer from 0 to 999,999,999 written plainly.
func (s *Scanner) Uint() (int, bool) {
	n, j := 0, s.i
	for ; j < len(s.b) && s.b[j] >= '0' && s.b[j] <= '9'; j++ {
		if j-s.i == 9 {
			return 0, false
		}
		n = n*10 + int(s.b[j]-'0')
	}
	if j == s.i || (s.b[s.i] == '0' && j-s.i > 1) {
		return 0, false
	}
	if j < len(s.b) {
		switch s.b[j] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	s.i = j
	return n, true
}

// Literal reads word (true, false) if it is next.
func (s *Scanner) Literal(word string) bool {
	if !bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		return false
	}
	s.i += len(word)
	return true
}

// Value skips one JSON value by its brackets and strings and returns its bytes; it does not
// check them (the caller does, with json.Valid).
func (s *Scanner) Value() ([]byte, bool) {
	start, depth := s.i, 0
	for j := s.i; j < len(s.b); j++ {
		c := s.b[j]
		switch c {
		case '"':
			for j++; j < len(s.b) && s.b[j] != '"'; j++ {
				if s.b[j] == '\\' {
					j++
				}
			}
			if j >= len(s.b) {
				return nil, false
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth < 0 { // the end of the enclosing object: a scalar ended here
				s.i = j
				return s.b[start:j], j > start
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				s.i = j
				return s.b[start:j], j > start
			}
		}
		if depth == 0 && (c == '"' || c == '}' || c == ']') {
			s.i = j + 1
			return s.b[start : j+1], true
		}
	}
	return nil, false
}

// Mark is the position of the scanner, for Since.
func (s *Scanner) Mark() int { return s.i }

// Reset moves the scanner back to mark.
func (s *Scanner) Reset(mark int) { s.i = mark }

// Since returns the bytes read from mark to the position of the scanner.
func (s *Scanner) Since(mark int) []byte { return s.b[mark:s.i] }

// maxDepth is encoding/json's limit of nesting; deeper values it refuses.
const maxDepth = 10000

// ValidValue reads one JSON value, checking it as json.Valid would, and returns its bytes: the
// args of an enqueue are checked and found in one pass, where Value and json.Valid took two.
func (s *Scanner) ValidValue() ([]byte, bool) {
	start := s.i
	if !s.valid(0) {
		s.i = start
		return nil, false
	}
	return s.b[start:s.i], true
}

// valid reads one value at nesting depth.
func (s *Scanner) valid(depth int) bool {
	switch s.Peek() {
	case '{':
		if depth == maxDepth {
			return false
		}
		s.i++
		if s.Next('}') {
			return true
		}
		for {
			s.SkipWS()
			if !s.validString() || !s.Next(':') {
				return false
			}
			s.SkipWS()
			if !s.valid(depth + 1) {
				return false
			}
			if s.Next(',') {
				continue
			}
			return s.Next('}')
		}
	case '[':
		if depth == maxDepth {
			return false
		}
		s.i++
		if s.Next(']') {
			return true
		}
		for {
			s.SkipWS()
			if !s.valid(depth + 1) {
				return false
			}
			if s.Next(',') {
				continue
			}
			return s.Next(']')
		}
	case '"':
		return s.validString()
	case 't':
		return s.Literal("true")
	case 'f':
		return s.Literal("false")
	case 'n':
		return s.Literal("null")
	default:
		return s.validNumber()
	}
}

// validString reads a string as JSON allows it: no control bytes, escapes of the known kinds
// (bytes of bad UTF-8 pass, as encoding/json lets them).
func (s *Scanner) validString() bool {
	if s.Peek() != '"' {
		return false
	}
	for j := s.i + 1; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			j++
			if j >= len(s.b) {
				return false
			}
			switch s.b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(s.b) {
					return false
				}
				for _, h := range s.b[j+1 : j+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				j += 4
			default:
				return false
			}
		}
	}
	return false
}

// validNumber reads a number as JSON writes it: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *Scanner) validNumber() bool {
	j := s.i
	digits := func() bool {
		k := j
		for j < len(s.b) && s.b[j] >= '0' && s.b[j] <= '9' {
			j++
		}
		return j > k
	}
	if j < len(s.b) && s.b[j] == '-' {
		j++
	}
	switch {
	case j < len(s.b) && s.b[j] == '0':
		j++
	case !digits():
		return false
	}
	if j < len(s.b) && s.b[j] == '.' {
		j++
		if !digits() {
			return false
		}
	}
	if j < len(s.b) && (s.b[j] == 'e' || s.b[j] == 'E') {
		j++
		if j < len(s.b) && (s.b[j] == '+' || s.b[j] == '-') {
			j++
		}
		if !digits() {
			return false
		}
	}
	s.i = j
	return true
}

// Valid reports whether b is one JSON value, white space around it aside, exactly as json.Valid
// does (FuzzValid), at a fraction of its cost for small documents: an enqueue's args are checked
// with it.
func Valid(b []byte) bool {
	s := New(b)
	s.SkipWS()
	_, ok := s.ValidValue()
	return ok && s.End()
}
