package prober

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// The SSRF guard refuses to connect to addresses inside the service's own
// network. It checks the address actually dialed, after DNS resolution, so
// a name that resolves (or re-resolves, DNS rebinding) to such an address
// is refused too, and so is every hop of a redirect.

// refusedError is a dial the guard refused; no packet was sent.
type refusedError struct {
	ip     netip.Addr
	reason string
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("connection to %s refused: %s address", e.ip, e.reason)
}

var (
	metadataV4 = netip.MustParseAddr("169.254.169.254")
	metadataV6 = netip.MustParseAddr("fd00:ec2::254")
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour  = netip.MustParsePrefix("2002::/16")
)

// refusedRanges are the special-purpose ranges netip has no predicate for.
var refusedRanges = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignment"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
}

// refusedReason says why ip may not be dialed, or "" when it may.
func refusedReason(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid():
		return "invalid"
	case ip == metadataV4 || ip == metadataV6:
		return "cloud metadata"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case ip.IsMulticast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
		return "multicast"
	}
	for _, r := range refusedRanges {
		if r.prefix.Contains(ip) {
			return r.reason
		}
	}
	// IPv6 forms that carry an IPv4 address reach that address.
	if ip.Is6() {
		b := ip.As16()
		var embedded netip.Addr
		switch {
		case nat64.Contains(ip):
			embedded = netip.AddrFrom4([4]byte(b[12:16]))
		case sixToFour.Contains(ip):
			embedded = netip.AddrFrom4([4]byte(b[2:6]))
		}
		if embedded.IsValid() {
			if r := refusedReason(embedded); r != "" {
				return r + " (embedded in IPv6)"
			}
		}
	}
	return ""
}

var hostnameRE = regexp.MustCompile(`^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$`)

// allowList is CREDENTIAL_ALLOWED_HOSTS: host names, IP addresses and CIDR
// prefixes the guard lets through.
type allowList struct {
	hosts    map[string]bool
	prefixes []netip.Prefix
}

func parseAllowList(entries []string) (allowList, error) {
	a := allowList{hosts: map[string]bool{}}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if p, err := netip.ParsePrefix(e); err == nil {
			a.prefixes = append(a.prefixes, p.Masked())
			continue
		}
		bad := fmt.Errorf("allowed host %q is not a host name, IP address or CIDR prefix", e)
		host := e
		if h, port, err := net.SplitHostPort(e); err == nil {
			if _, perr := strconv.ParseUint(port, 10, 16); perr != nil {
				return allowList{}, bad
			}
			host = h
		}
		host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
		if ip, err := netip.ParseAddr(host); err == nil {
			a.prefixes = append(a.prefixes, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
			continue
		}
		if !hostnameRE.MatchString(host) {
			return allowList{}, bad
		}
		a.hosts[host] = true
	}
	return a, nil
}

// host reports whether a dial target's host name is allowed as such.
func (a allowList) host(host string) bool {
	return a.hosts[strings.TrimSuffix(strings.ToLower(host), ".")]
}

// ip reports whether an address is inside an allowed prefix.
func (a allowList) ip(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range a.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ValidateAllowedHosts reports the first CREDENTIAL_ALLOWED_HOSTS entry
// that is not a host name, IP address or CIDR prefix.
func ValidateAllowedHosts(entries []string) error {
	_, err := parseAllowList(entries)
	return err
}
