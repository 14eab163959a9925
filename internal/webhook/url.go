package webhook

import (
	"net/netip"
	"net/url"
	"strings"

	"gatepass/internal/access"
)

// MaxURL bounds an endpoint's URL.
const MaxURL = 2048

// CheckURL validates an endpoint URL: https with a host, no user information, at most
// MaxURL long. Plain http is refused unless allowLoopback (a development and test
// setting) and the host is a loopback address or localhost. The addresses the host
// resolves to are checked again at each delivery (Refused).
func CheckURL(raw string, allowLoopback bool) (string, error) {
	if raw == "" || len(raw) > MaxURL {
		return "", access.Invalid("url", "must be 1 to %d characters", MaxURL)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return "", access.Invalid("url", "is not an absolute URL")
	}
	if u.User != nil {
		return "", access.Invalid("url", "must not carry a user name or password")
	}
	if u.Fragment != "" {
		return "", access.Invalid("url", "must not have a fragment")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !allowLoopback || !loopbackHost(u.Hostname()) {
			return "", access.Invalid("url", "must be https (plain http only to a loopback address, and only when the server allows it for development)")
		}
	default:
		return "", access.Invalid("url", "must be https")
	}
	if loopbackHost(u.Hostname()) && !allowLoopback {
		return "", access.Invalid("url", "points at a loopback address")
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && Refused(ip, allowLoopback) {
		return "", access.Invalid("url", "points at a private, loopback or link-local address")
	}
	return u.String(), nil
}

func loopbackHost(h string) bool {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") { // RFC 6761
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.Unmap().IsLoopback()
}

// cgnat is 100.64.0.0/10, the carrier-grade NAT range: not public either.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// Refused reports whether a delivery must not connect to ip: anything but a public
// unicast address (private, loopback, link-local such as the cloud metadata address
// 169.254.169.254, unspecified, multicast, carrier-grade NAT), so that an endpoint URL
// cannot reach into the server's own network. Loopback is allowed only when
// allowLoopback (development and tests).
func Refused(ip netip.Addr, allowLoopback bool) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() {
		return !allowLoopback
	}
	return !ip.IsValid() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || cgnat.Contains(ip)
}
