package prober

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
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
	// Documentation ranges route nowhere on the internet, so an address in
	// them can only be a local network that reused them.
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	// IPv4-compatible addresses (deprecated) are handed to the IPv4 stack
	// by some systems; no provider has one.
	{netip.MustParsePrefix("::/96"), "IPv4-compatible"},
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
	if embedded, ok := embeddedIPv4(ip); ok {
		if r := refusedReason(embedded); r != "" {
			return r + " (embedded in IPv6)"
		}
	}
	return ""
}

// embeddedIPv4 is the IPv4 address an IPv6 form reaches (NAT64, 6to4).
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	if !ip.Is6() {
		return netip.Addr{}, false
	}
	b := ip.As16()
	switch {
	case nat64.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

// ownAddressReason is the refusal of an address of this machine.
const ownAddressReason = "this host's own"

// hostAddrsMaxAge is how long a listing of the interfaces is trusted:
// addresses change with DHCP leases and container networks, rarely faster.
const hostAddrsMaxAge = 30 * time.Second

// hostAddrs are the addresses of this machine's interfaces. They are
// refused whatever their range: a public address of the host reaches every
// service listening on all interfaces (NATS, MongoDB, the gateway) as surely
// as loopback does.
type hostAddrs struct {
	list   func() ([]net.Addr, error) // net.InterfaceAddrs
	maxAge time.Duration

	mu     sync.Mutex
	set    map[netip.Addr]bool
	listed time.Time
}

func newHostAddrs(list func() ([]net.Addr, error)) *hostAddrs {
	if list == nil {
		list = net.InterfaceAddrs
	}
	return &hostAddrs{list: list, maxAge: hostAddrsMaxAge}
}

// contains reports whether ip is one of the machine's addresses. When the
// interfaces cannot be listed the previous listing is used; without one the
// error is returned and the dial refused.
func (h *hostAddrs) contains(ip netip.Addr) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.set == nil || time.Since(h.listed) > h.maxAge {
		addrs, err := h.list()
		switch {
		case err == nil:
			h.set = addrSet(addrs)
			h.listed = time.Now()
		case h.set == nil:
			return false, fmt.Errorf("list this host's addresses: %w", err)
		}
	}
	return h.set[ip.WithZone("").Unmap()], nil
}

func addrSet(addrs []net.Addr) map[netip.Addr]bool {
	set := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		var ip net.IP
		switch a := a.(type) {
		case *net.IPNet:
			ip = a.IP
		case *net.IPAddr:
			ip = a.IP
		}
		if addr, ok := netip.AddrFromSlice(ip); ok {
			set[addr.Unmap()] = true
		}
	}
	return set
}

// guard decides each dialed address: refused ranges and the machine's own
// addresses are refused unless CREDENTIAL_ALLOWED_HOSTS lists them.
type guard struct {
	allow allowList
	host  *hostAddrs
}

// check returns a *refusedError for an address the probe may not reach.
func (g guard) check(ip netip.Addr) error {
	if g.allow.ip(ip) {
		return nil
	}
	reason := refusedReason(ip)
	if reason == "" {
		candidates := []netip.Addr{ip}
		if v4, ok := embeddedIPv4(ip); ok {
			candidates = append(candidates, v4)
		}
		for _, c := range candidates {
			own, err := g.host.contains(c)
			if err != nil {
				return err
			}
			if own {
				reason = ownAddressReason
				if c != ip {
					reason += " (embedded in IPv6)"
				}
				break
			}
		}
	}
	if reason != "" {
		return &refusedError{ip: ip, reason: reason}
	}
	return nil
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
