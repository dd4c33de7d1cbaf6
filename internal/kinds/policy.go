package kinds

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrForbiddenAddress: the http kind was asked to reach an address that is not public
// (loopback, link-local, private, multicast, unspecified, or another special range) and that
// http.allow_hosts does not name.
var ErrForbiddenAddress = errors.New("address not allowed for the http kind")

// Ranges refused besides what netip's predicates name (loopback, private, link-local,
// multicast, unspecified): "this network", shared address space (carrier-grade NAT, where some
// clouds keep their metadata service), IETF protocol assignments, benchmarking, reserved and
// broadcast, IPv4-compatible IPv6, the discard prefix and deprecated site-local IPv6.
var specialRanges = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("::/96"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("fec0::/10"),
}

// IPv6 prefixes that carry an IPv4 address, which is checked in turn.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	nat64Loc  = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// Public reports whether ip is a public unicast address: not loopback, link-local, private,
// multicast, unspecified or special, IPv4-mapped and IPv4-embedding IPv6 forms included.
func Public(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	if !ip.IsValid() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsPrivate() || ip.IsUnspecified() {
		return false
	}
	for _, p := range specialRanges {
		if p.Contains(ip) {
			return false
		}
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip), nat64Loc.Contains(ip):
			return Public(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(ip):
			return Public(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	return true
}

// Policy is where the http kind may connect: public addresses, plus the host names and the
// address ranges of http.allow_hosts.
type Policy struct {
	hosts map[string]bool // lower case, no trailing dot
	nets  []netip.Prefix
}

// ParseAllowHost reads one http.allow_hosts entry: a CIDR ("10.0.0.0/8"), an IP address, or a
// host name ("hooks.internal"). A name allows that name (any port), whatever it resolves to; a
// CIDR or an address allows the addresses it covers, whatever name led there.
func ParseAllowHost(s string) (name string, prefix netip.Prefix, err error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return "", p.Masked(), nil
	}
	if ip, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		ip = ip.Unmap()
		return "", netip.PrefixFrom(ip, ip.BitLen()), nil
	}
	name = strings.TrimSuffix(strings.ToLower(s), ".")
	if name == "" || strings.ContainsAny(name, "/:@ \t*") {
		return "", prefix, fmt.Errorf("%q is not a host name, an IP address or a CIDR", s)
	}
	return name, prefix, nil
}

// NewPolicy makes the policy of allow (http.allow_hosts entries).
func NewPolicy(allow []string) (*Policy, error) {
	p := &Policy{hosts: map[string]bool{}}
	for i, a := range allow {
		name, prefix, err := ParseAllowHost(a)
		if err != nil {
			return nil, fmt.Errorf("http.allow_hosts[%d]: %w", i, err)
		}
		if name != "" {
			p.hosts[name] = true
		} else {
			p.nets = append(p.nets, prefix)
		}
	}
	return p, nil
}

func (p *Policy) namedHost(host string) bool {
	return p.hosts[strings.TrimSuffix(strings.ToLower(host), ".")]
}

// CheckIP returns nil if ip may be reached: it is public or in an allowed range.
func (p *Policy) CheckIP(ip netip.Addr) error {
	ip = ip.Unmap().WithZone("")
	for _, n := range p.nets {
		if n.Contains(ip) {
			return nil
		}
	}
	if Public(ip) {
		return nil
	}
	return fmt.Errorf("%w: %s (allow it in http.allow_hosts)", ErrForbiddenAddress, ip)
}

// CheckURL checks what can be known of a URL before any name is resolved: an http or https
// scheme, a host, and, when the host is an IP address, that it may be reached. Host names are
// checked on the addresses they resolve to, when the connection is made.
func (p *Policy) CheckURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("must be an http:// or https:// URL, got scheme %q", u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		return errors.New("must name a host")
	}
	if u.User != nil {
		return errors.New("must not carry user:password (set an Authorization header)")
	}
	if p.namedHost(host) {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return p.CheckIP(ip)
	}
	return nil
}

// control is the dialer's last word: the address about to be connected, after name resolution.
func (p *Policy) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrForbiddenAddress, address)
	}
	return p.CheckIP(ap.Addr())
}

// dial connects to addr; unless its host is an allowed name, every address the dialer tries is
// checked just before connecting (so DNS answers, rebinding included, are checked as used).
func (p *Policy) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if !p.namedHost(host) {
		d.Control = p.control
	}
	return d.DialContext(ctx, network, addr)
}

// maxRedirects bounds the redirects the http kind follows.
const maxRedirects = 10

// Client returns an HTTP client that keeps to the policy: no proxy (a proxy would connect
// for us, unchecked), every connection checked on its address, every redirect checked.
func (p *Policy) Client(timeout time.Duration) *http.Client {
	tr := &http.Transport{Proxy: nil, DialContext: p.dial, ForceAttemptHTTP2: true, MaxIdleConns: 100,
		IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second, ExpectContinueTimeout: time.Second}
	return &http.Client{Timeout: timeout, Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		if err := p.CheckURL(req.URL); err != nil {
			return fmt.Errorf("redirect to %s: %w", req.URL.Redacted(), err)
		}
		return nil
	}}
}
