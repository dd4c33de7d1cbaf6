package httpapi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHostGuard(t *testing.T) {
	cases := []struct {
		listen  string
		allowed []string
		tls     bool
		host    string
		ok      bool
	}{
		{"127.0.0.1:7420", nil, false, "127.0.0.1:7420", true},
		{"127.0.0.1:7420", nil, false, "localhost:7420", true},
		{"127.0.0.1:7420", nil, false, "LOCALHOST:7420", true},
		{"127.0.0.1:7420", nil, false, "[::1]:7420", true},
		{"127.0.0.1:7420", nil, false, "localhost:7421", false},
		{"127.0.0.1:7420", nil, false, "localhost", false},
		{"127.0.0.1:80", nil, false, "localhost", true}, // no port: 80
		{"127.0.0.1:443", nil, true, "localhost", true}, // no port with TLS: 443
		{"127.0.0.1:7420", nil, false, "10.0.0.5:7420", false},
		{"127.0.0.1:7420", nil, false, "attacker.example:7420", false},
		{"127.0.0.1:7420", nil, false, "", false},
		{"0.0.0.0:7420", nil, false, "10.0.0.5:7420", true}, // any address when listening on all
		{"[::]:7420", nil, false, "[fd00::5]:7420", true},
		{"[::]:7420", nil, false, "10.0.0.5:9999", false},
		{"0.0.0.0:7420", nil, false, "box.lan:7420", false}, // a name must be allowed
		{"0.0.0.0:7420", []string{"box.lan"}, false, "box.lan:7420", true},
		{"0.0.0.0:7420", []string{"box.lan"}, false, "BOX.lan.:1234", true},
		{"0.0.0.0:7420", []string{"jobs.example.com:443"}, false, "jobs.example.com", false},
		{"0.0.0.0:7420", []string{"jobs.example.com:443"}, true, "jobs.example.com", true},
		{"[::1]:7420", nil, false, "[::1]:7420", true},
		{"[::1]:7420", nil, false, "127.0.0.1:7420", true},
	}
	for _, tc := range cases {
		g, err := newHostGuard(tc.listen, tc.allowed, tc.tls)
		require.NoError(t, err)
		def := defaultHTTPPort
		if tc.tls {
			def = defaultHTTPSPort
		}
		require.Equal(t, tc.ok, g.accepts(tc.host, def), "listen %s allowed %v host %q", tc.listen, tc.allowed, tc.host)
	}
	g, err := newHostGuard("127.0.0.1:7420", nil, false)
	require.NoError(t, err)
	for origin, ok := range map[string]bool{
		"http://127.0.0.1:7420": true, "http://localhost:7420": true, "https://localhost:7420": true,
		"http://localhost:3000": false, "null": false, "file://": false, "http://evil.example": false,
		"http://127.0.0.1:7420/path": false, "chrome-extension://abc": false,
	} {
		require.Equal(t, ok, g.sameOrigin(origin), origin)
	}
	_, err = newHostGuard("127.0.0.1:7420", []string{"http://x/"}, false)
	require.Error(t, err)
}
