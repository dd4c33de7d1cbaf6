package kinds

import (
	"encoding/json"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

// FuzzHTTPURLCheck throws arbitrary URLs at the http kind's enqueue check with no allow list: a
// URL it accepts never names a non-public address, in any spelling the URL parser and the
// dialer would read as one (IPv4-mapped, bracketed, zoned, with a trailing dot...).
func FuzzHTTPURLCheck(f *testing.F) {
	for _, seed := range []string{
		"http://127.0.0.1/", "http://[::1]:80/", "http://[::ffff:127.0.0.1]/", "http://169.254.169.254/latest",
		"http://0.0.0.0/", "http://[fe80::1%25eth0]/", "http://10.0.0.1./", "http://2130706433/", "http://0x7f.1/",
		"http://127.1/", "http://[64:ff9b::7f00:1]/", "http://[2002:7f00:1::]/", "https://example.com/", "http://8.8.8.8/",
		"http://user@127.0.0.1/", "http://example.com@127.0.0.1/", "HTTP://127.0.0.1/", "http://[::]/", "http://[::127.0.0.1]/",
	} {
		f.Add(seed)
	}
	p, err := NewPolicy(nil)
	require.NoError(f, err)
	check := CheckHTTP(p)
	f.Fuzz(func(t *testing.T, raw string) {
		args, err := json.Marshal(HTTPArgs{URL: raw})
		if err != nil {
			return
		}
		if err := check(args); err != nil {
			var inv *jobsched.InvalidError
			require.ErrorAs(t, err, &inv)
			require.Equal(t, "url", inv.Field)
			return
		}
		u, err := url.Parse(raw)
		require.NoError(t, err, "an accepted URL parses")
		require.Contains(t, []string{"http", "https"}, u.Scheme)
		host := u.Hostname()
		if ip, err := netip.ParseAddr(host); err == nil {
			require.True(t, Public(ip), "accepted %q, a non-public address", raw)
			require.NoError(t, p.control("tcp", netip.AddrPortFrom(ip, 80).String(), nil))
		}
		// Whatever a name resolves to is checked by the dialer: the same predicate decides.
		if ip, err := netip.ParseAddr(strings.TrimSuffix(host, ".")); err == nil && !Public(ip) {
			require.Error(t, p.control("tcp", netip.AddrPortFrom(ip, 80).String(), nil))
		}
	})
}

// FuzzSleepArgs: whatever sleep's fast reader of args accepts, the strict JSON decoder accepts
// too, with the same values; what it refuses goes to the decoder, so its answers are the same.
func FuzzSleepArgs(f *testing.F) {
	for _, seed := range []string{
		`{"fail_rate":0,"ms":0,"panic_rate":0,"seed":12}`, `{}`, ` { "ms" : 1.5e2 } `, `{"ms":-0}`,
		`{"MS":1}`, `{"ms":"1"}`, `{"seed":1.0}`, `{"seed":-1}`, `{"ms":01}`, `{"ms":1,}`, `{"ms":1}x`,
		`{"ms":1e400}`, `{"ms":null}`, `null`, ``, `{"ms":1,"ms":2}`, `{"m\u0073":1}`, `{"seed":18446744073709551616}`,
		`{"ms":0.1,"fail_rate":0.30000000000000004}`, `{"ms":123456789012345.6}`, `{"ms":1234567890123456}`,
		`{"fail_rate":0.000000000000001}`, `{"seed":1234567890123456789}`, `{"seed":12345678901234567890}`, `{"ms":0.}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		fast, ok := parseSleepFast([]byte(raw))
		if !ok {
			return
		}
		var slow SleepArgs
		require.NoError(t, decodeArgs(json.RawMessage(raw), &slow), "the fast reader took %q", raw)
		require.Equal(t, slow, fast, "args %q", raw)
	})
}
