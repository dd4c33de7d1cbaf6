package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Uint and PositiveInt take plain integers only, and only what encoding/json reads as the same
// int; anything else leaves the scanner where it was.
func TestIntegers(t *testing.T) {
	for _, c := range []struct {
		in       string
		uint     int
		uok, pok bool
	}{
		{"0", 0, true, false}, {"7,", 7, true, true}, {"999999999}", 999999999, true, true},
		{"1000000000", 0, false, false}, {"01", 0, false, false}, {"1.5", 0, false, false},
		{"1e3", 0, false, false}, {"-1", 0, false, false}, {"", 0, false, false}, {"x", 0, false, false},
	} {
		s := New([]byte(c.in))
		n, ok := s.Uint()
		require.Equal(t, c.uok, ok, c.in)
		if ok {
			require.Equal(t, c.uint, n, c.in)
			var want int
			require.NoError(t, json.Unmarshal([]byte(c.in[:s.Mark()]), &want))
			require.Equal(t, want, n)
		} else {
			require.Zero(t, s.Mark(), c.in)
		}
		s = New([]byte(c.in))
		_, ok = s.PositiveInt()
		require.Equal(t, c.pok, ok, c.in)
	}
}

// String reads escapes as encoding/json does; PlainString refuses them, and control bytes and
// bad UTF-8.
func TestStrings(t *testing.T) {
	for _, in := range []string{`"plain"`, `"é"`, `"a\"b"`, `"\u00e9\n"`, "\"\xff\""} {
		s := New([]byte(in))
		got, ok := s.String()
		require.True(t, ok, in)
		var want string
		require.NoError(t, json.Unmarshal([]byte(in), &want))
		require.Equal(t, want, got, in)
		require.True(t, s.End())
	}
	for _, in := range []string{`"a\"b"`, "\"a\x01\"", "\"\xff\"", `"open`, `x`} {
		s := New([]byte(in))
		_, ok := s.PlainString()
		require.False(t, ok, in)
	}
	s := New([]byte(`["a", "b\n" ,"c"] `))
	ss, ok := s.Strings()
	require.True(t, ok)
	require.Equal(t, []string{"a", "b\n", "c"}, ss)
	require.True(t, s.End())
}

// Value steps over one value of any kind, strings with brackets and escapes in them included.
func TestValue(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":[1,"]}\""],"b":{}},`: `{"a":[1,"]}\""],"b":{}}`, `"x,y" `: `"x,y"`, `12}`: `12`, `true,`: `true`, `[]`: `[]`,
	} {
		s := New([]byte(in))
		got, ok := s.Value()
		require.True(t, ok, in)
		require.Equal(t, want, string(got), in)
	}
	for _, in := range []string{`{"a":1`, `"open`, `}`} {
		s := New([]byte(in))
		_, ok := s.Value()
		require.False(t, ok, in)
	}
}

// FuzzValidValue: ValidValue takes a whole input (white space around it aside) exactly when
// json.Valid does.
func FuzzValidValue(f *testing.F) {
	for _, seed := range []string{`{"a":[1,-2.5e+3,true,false,null,"x\u00e9\n"]}`, `0`, `-0.0e0`, `01`, `1.`, `.5`, `"\x01"`,
		`"\ud800"`, "\"\xff\"", `{"a" 1}`, `[1,]`, `{,}`, `{"a":1,}`, `"\q"`, `"\u12"`, `tru`, `nul`, ` [ ] `, `{}{}`, `1 2`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s := New([]byte(in))
		s.SkipWS()
		v, ok := s.ValidValue()
		got := ok && s.End()
		require.Equal(t, json.Valid([]byte(in)), got, "%q", in)
		if got {
			require.Equal(t, strings.TrimSpace(in), string(v))
		}
	})
}

// FuzzValid: Valid agrees with json.Valid on every input.
func FuzzValid(f *testing.F) {
	for _, seed := range []string{`{"ms":0}`, ` [ ] `, `{}{}`, `1 2`, ``, `  `, `"\u12"`, "\"\xff\"", `{"a":[1,-2.5e+3,true,null]}`, `-`, `1e`, `[1,]`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		require.Equal(t, json.Valid([]byte(in)), Valid([]byte(in)), "%q", in)
	})
}

// ValidValue refuses what is nested deeper than encoding/json allows, as json.Valid does.
func TestValidValueDepth(t *testing.T) {
	for _, n := range []int{maxDepth, maxDepth + 1} {
		in := []byte(strings.Repeat("[", n) + strings.Repeat("]", n))
		s := New(in)
		_, ok := s.ValidValue()
		require.Equal(t, json.Valid(in), ok, n)
	}
}
