package kinds

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

func TestPublic(t *testing.T) {
	for _, tc := range []struct {
		ip     string
		public bool
	}{
		{"8.8.8.8", true},
		{"2606:4700:4700::1111", true},
		{"127.0.0.1", false},
		{"127.8.9.10", false},
		{"::1", false},
		{"::ffff:127.0.0.1", false}, // IPv4-mapped
		{"::ffff:8.8.8.8", true},
		{"::127.0.0.1", false}, // IPv4-compatible
		{"169.254.169.254", false},
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"192.168.1.1", false},
		{"fd00::1", false},
		{"100.100.100.200", false}, // shared address space (a cloud metadata service)
		{"0.0.0.0", false},
		{"::", false},
		{"224.0.0.1", false},
		{"ff02::1", false},
		{"255.255.255.255", false},
		{"64:ff9b::7f00:1", false},   // NAT64 of 127.0.0.1
		{"64:ff9b::808:808", true},   // NAT64 of 8.8.8.8
		{"2002:7f00:1::", false},     // 6to4 of 127.0.0.1
		{"2002:a9fe:a9fe::1", false}, // 6to4 of 169.254.169.254
		{"2002:808:808::1", true},    // 6to4 of 8.8.8.8
		{"fec0::1", false},           // site-local
		{"198.18.0.1", false},        // benchmarking
		{"192.0.0.170", false},       // IETF
		{"::ffff:169.254.169.254", false},
	} {
		require.Equal(t, tc.public, Public(netip.MustParseAddr(tc.ip)), tc.ip)
	}
}

func TestPolicyCheckURL(t *testing.T) {
	p, err := NewPolicy([]string{"10.0.0.0/8", "hooks.internal", "192.168.1.7", "[fd00::5]"})
	require.NoError(t, err)
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://example.com/hook", true},
		{"http://8.8.8.8/", true},
		{"http://10.1.2.3:8080/x", true},   // CIDR
		{"http://HOOKS.internal./x", true}, // name, any case, trailing dot
		{"http://192.168.1.7/", true},      // a single address
		{"http://[fd00::5]/", true},        // a single IPv6 address
		{"http://192.168.1.8/", false},     // its neighbour
		{"http://127.0.0.1:7420/v1/categories/default/pause", false},
		{"http://169.254.169.254/latest/meta-data/", false},
		{"http://[::ffff:127.0.0.1]:7420/", false},
		{"http://[::1]/", false},
		{"http://0.0.0.0/", false},
		{"ftp://example.com/", false},
		{"http:///nohost", false},
		{"http://user:pw@example.com/", false},
		{"file:///etc/passwd", false},
	} {
		u, err := url.Parse(tc.url)
		require.NoError(t, err)
		if tc.ok {
			require.NoError(t, p.CheckURL(u), tc.url)
		} else {
			require.Error(t, p.CheckURL(u), tc.url)
		}
	}
	for _, bad := range []string{"", "http://x", "a/b", "*.example.com", "10.0.0.0/33"} {
		_, err := NewPolicy([]string{bad})
		require.Error(t, err, bad)
	}
}

// httpJob runs the http kind's handler as the daemon does: args checked first (the enqueue),
// then the request through the policy's client.
func httpJob(t *testing.T, p *Policy, rawURL string) (any, error) {
	t.Helper()
	args, err := json.Marshal(HTTPArgs{Method: "GET", URL: rawURL})
	require.NoError(t, err)
	if err := CheckHTTP(p)(args); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return HTTP(p.Client(10*time.Second))(ctx, &jobsched.Job{ID: "j", Kind: "http", Args: args, Attempt: 1})
}

func TestHTTPRefusesWhatItDialsAndWhereItIsRedirected(t *testing.T) {
	hits := make(chan string, 10)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits <- r.URL.Path
		_, _ = w.Write([]byte("secret"))
	}))
	defer target.Close()
	_, port, err := net.SplitHostPort(target.Listener.Addr().String())
	require.NoError(t, err)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/after-redirect", http.StatusFound)
	}))
	defer redirector.Close()
	_, rport, err := net.SplitHostPort(redirector.Listener.Addr().String())
	require.NoError(t, err)

	// A name that resolves to loopback passes the enqueue check and is refused when dialled.
	none, err := NewPolicy(nil)
	require.NoError(t, err)
	_, err = httpJob(t, none, "http://localhost:"+port+"/by-name")
	require.ErrorIs(t, err, ErrForbiddenAddress)
	// An IP address is refused at enqueue already, naming the field.
	_, err = httpJob(t, none, "http://127.0.0.1:"+port+"/")
	require.ErrorIs(t, err, jobsched.ErrInvalid)
	require.ErrorContains(t, err, "url")

	// "localhost" is allowed by name: its own requests go through, but its redirect to
	// 127.0.0.1 (an address, not that name) is refused.
	byName, err := NewPolicy([]string{"localhost"})
	require.NoError(t, err)
	res, err := httpJob(t, byName, "http://localhost:"+port+"/direct")
	require.NoError(t, err)
	require.Equal(t, "secret", res.(HTTPResult).Body)
	require.Equal(t, "/direct", <-hits)
	_, err = httpJob(t, byName, "http://localhost:"+rport+"/go")
	require.ErrorIs(t, err, ErrForbiddenAddress)
	require.ErrorContains(t, err, "redirect")

	// Allowed by CIDR, the redirect is followed.
	byCIDR, err := NewPolicy([]string{"127.0.0.0/8", "::1/128"})
	require.NoError(t, err)
	res, err = httpJob(t, byCIDR, "http://127.0.0.1:"+rport+"/go")
	require.NoError(t, err)
	require.Equal(t, "secret", res.(HTTPResult).Body)
	require.Equal(t, "/after-redirect", <-hits)
	require.Empty(t, hits, "no refused request reached the target")
}

func TestChecksAtEnqueueNameTheField(t *testing.T) {
	p, err := NewPolicy(nil)
	require.NoError(t, err)
	root := t.TempDir()
	ex := ExecPolicy{Allow: []string{"/bin/echo"}, Env: []string{"GREETING"}, DirRoots: []string{root}}
	for _, tc := range []struct {
		check jobsched.Validator
		args  string
		field string // "" accepted; "-" the args as a whole
	}{
		{CheckSleep, `{"ms":10,"fail_rate":0.5,"panic_rate":0.1}`, ""},
		{CheckSleep, ``, ""},
		{CheckSleep, `"x"`, "-"},
		{CheckSleep, `{"ms":"ten"}`, "ms"},
		{CheckSleep, `{"ms":-1}`, "ms"},
		{CheckSleep, `{"ms":99999999}`, "ms"},
		{CheckSleep, `{"fail_rate":2}`, "fail_rate"},
		{CheckSleep, `{"panic_rate":-1}`, "panic_rate"},
		{CheckSleep, `{"msec":1}`, "msec"},
		{CheckHTTP(p), `{"url":"https://example.com/hook","headers":{"X-A":"b"}}`, ""},
		{CheckHTTP(p), `{}`, "url"},
		{CheckHTTP(p), `{"url":"http://169.254.169.254/"}`, "url"},
		{CheckHTTP(p), `{"url":"https://example.com","method":"GET /x"}`, "method"},
		{CheckHTTP(p), `{"url":"https://example.com","headers":{"X":"a\r\nB: c"}}`, "headers.X"},
		{CheckHTTP(p), `{"url":"https://example.com","headers":{"a b":"c"}}`, "headers"},
		{CheckHTTP(p), `{"url":"https://example.com","timeout":"-1s"}`, "timeout"},
		{CheckExec(ex), `{"argv":["/bin/echo","hi"],"env":{"GREETING":"x"},"dir":"` + root + `/sub"}`, ""},
		{CheckExec(ex), `{}`, "argv"},
		{CheckExec(ex), `{"argv":["/bin/sh"]}`, "argv"},
		{CheckExec(ex), `{"argv":["/bin/echo"],"env":{"LD_PRELOAD":"/tmp/x.so"}}`, "env.LD_PRELOAD"},
		{CheckExec(ex), `{"argv":["/bin/echo"],"env":{"BASH_ENV":"/tmp/x"}}`, "env.BASH_ENV"},
		{CheckExec(ex), `{"argv":["/bin/echo"],"dir":"/etc"}`, "dir"},
		{CheckExec(ex), `{"argv":["/bin/echo"],"dir":"` + root + `/../x"}`, "dir"},
		{CheckExec(ex), `{"argv":["/bin/echo"],"dir":"relative"}`, "dir"},
	} {
		name := fmt.Sprintf("%s→%s", tc.args, tc.field)
		err := tc.check(json.RawMessage(tc.args))
		if tc.field == "" {
			require.NoError(t, err, name)
			continue
		}
		var inv *jobsched.InvalidError
		require.ErrorAs(t, err, &inv, name)
		want := tc.field
		if want == "-" {
			want = ""
		}
		require.Equal(t, want, inv.Field, name)
	}
}
