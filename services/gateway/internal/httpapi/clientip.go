package httpapi

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParseTrustedProxies reads TRUSTED_PROXIES entries: CIDRs or single
// addresses of the load balancers whose X-Forwarded-For is believed.
// Blank entries are skipped.
func ParseTrustedProxies(entries []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if strings.Contains(e, "/") {
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR", e)
			}
			// 10.0.0.0/8 written as ::ffff:10.0.0.0/104 must still match
			// the IPv4 peers it means.
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("%q is not an IP address or CIDR", e)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// clientIP is the address a request is counted under: the connection's
// peer, or, when the peer is a trusted proxy, the nearest X-Forwarded-For
// hop that is not. Walking from the right matters: every proxy appends the
// address it received from, so only the right end of the list was written
// by someone we trust, while the left end is whatever the client sent.
func clientIP(r *http.Request, trusted []netip.Prefix) string {
	return clientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), trusted)
}

func clientAddr(remoteAddr string, forwardedFor []string, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	peer, ok := parseHop(host)
	if !ok {
		return host
	}
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	// Several header lines are one list in order (RFC 9110, 5.3).
	hops := strings.Split(strings.Join(forwardedFor, ","), ",")
	current := peer
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parseHop(strings.TrimSpace(hops[i]))
		if !ok {
			// What lies left of garbage (or of an absent header) cannot
			// be attributed to any proxy, so it cannot be believed either.
			break
		}
		current = hop
		if !isTrusted(hop, trusted) {
			break
		}
	}
	return current.String()
}

// parseHop reads an address as proxies write it: bare, or with a port
// (some balancers append one). Zones and IPv4-in-IPv6 forms are
// normalised so that one client has one key.
func parseHop(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.WithZone("").Unmap(), true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
