package httpapi

import (
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// Error codes of the guard.
const (
	CodeForbiddenHost     = "forbidden_host"
	CodeCrossOrigin       = "cross_origin"
	CodeUnsupportedMedia  = "unsupported_media_type"
	CodeOverloaded        = "overloaded"
	defaultHTTPPort       = "80"
	defaultHTTPSPort      = "443"
	loopbackHostsDocument = "localhost, 127.0.0.1 or [::1]"
)

// hostGuard says which Host (and Origin) values name this daemon: the listen address, the
// loopback names with the listen port, any IP address with the listen port when listening on
// all interfaces (an address cannot be rebound, only a name can), and the allowed_hosts.
type hostGuard struct {
	port     string
	defPort  string          // of a Host header without a port: 80, or 443 with TLS
	exact    map[string]bool // "host:port", lower case
	anyPort  map[string]bool // "host" of allowed_hosts entries without a port
	anyIP    bool
	disabled bool
}

// newHostGuard builds the guard for a server listening on listen (the bound address, its real
// port) with the allowed_hosts entries ("name", "name:port", an IP address). An empty listen
// turns the Host check off (an API mounted behind the caller's own server).
func newHostGuard(listen string, allowed []string, tls bool) (*hostGuard, error) {
	g := &hostGuard{exact: map[string]bool{}, anyPort: map[string]bool{}, defPort: defaultHTTPPort}
	if tls {
		g.defPort = defaultHTTPSPort
	}
	if listen == "" {
		g.disabled = true
		return g, nil
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("listen %q: %w", listen, err)
	}
	g.port = port
	for _, h := range []string{host, "localhost", "127.0.0.1", "[::1]"} {
		g.exact[joinHost(h, port)] = true
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() || host == "" {
		g.anyIP = true
	}
	for _, a := range allowed {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == "" || strings.ContainsAny(a, "/@ \t") {
			return nil, fmt.Errorf("allowed_hosts: %q is not a host or host:port", a)
		}
		if h, p, err := net.SplitHostPort(a); err == nil {
			g.exact[joinHost(h, p)] = true
		} else {
			g.anyPort[strings.Trim(a, "[]")] = true
		}
	}
	return g, nil
}

// joinHost writes host:port with IPv6 in brackets, lower case.
func joinHost(host, port string) string {
	return strings.ToLower(net.JoinHostPort(strings.Trim(host, "[]"), port))
}

// accepts reports whether hostport (a Host header, or an Origin's host) names this daemon;
// defPort is the port of its scheme, used when hostport has none.
func (g *hostGuard) accepts(hostport, defPort string) bool {
	if g.disabled {
		return true
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, defPort
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if g.exact[joinHost(host, port)] || g.anyPort[host] {
		return true
	}
	if g.anyIP && port == g.port {
		if _, err := netip.ParseAddr(host); err == nil {
			return true
		}
	}
	return false
}

// sameOrigin reports whether an Origin header names this daemon.
func (g *hostGuard) sameOrigin(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Path != "" && u.Path != "/" {
		return false // "null", a file:// page, anything odd
	}
	switch u.Scheme {
	case "http":
		return g.accepts(u.Host, defaultHTTPPort)
	case "https":
		return g.accepts(u.Host, defaultHTTPSPort)
	}
	return false
}

// guard refuses, before any handler runs: a Host that does not name this daemon (DNS
// rebinding), a cross-site Origin (or Sec-Fetch-Site) on anything but GET and HEAD (a web page
// posting to the daemon), and a body that is not application/json (a form or text/plain post,
// which a page may send without asking).
func (a *API) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.hosts.accepts(r.Host, a.hosts.defPort) {
			refuse(w, http.StatusForbidden, CodeForbiddenHost, fmt.Sprintf(
				"Host %q does not name this daemon: use its listen address, %s with its port, or add the name to allowed_hosts (--allowed-host)",
				r.Host, loopbackHostsDocument))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if o := r.Header.Get("Origin"); o != "" && !a.hosts.sameOrigin(o) {
				refuse(w, http.StatusForbidden, CodeCrossOrigin, fmt.Sprintf(
					"cross-site request from Origin %q refused: only pages served by this daemon may change it", o))
				return
			}
			if r.Header.Get("Origin") == "" && r.Header.Get("Sec-Fetch-Site") == "cross-site" {
				refuse(w, http.StatusForbidden, CodeCrossOrigin, "cross-site request refused (Sec-Fetch-Site: cross-site)")
				return
			}
			if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
				mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
				if err != nil || mt != "application/json" {
					refuse(w, http.StatusUnsupportedMediaType, CodeUnsupportedMedia, fmt.Sprintf(
						"request bodies are read only as application/json (send Content-Type: application/json), got Content-Type %q", r.Header.Get("Content-Type")))
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func refuse(w http.ResponseWriter, status int, code, msg string) {
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", RetryAfterSeconds)
	}
	writeJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: msg}})
}
