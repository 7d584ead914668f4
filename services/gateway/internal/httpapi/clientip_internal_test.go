package httpapi

import (
	"net/http/httptest"
	"testing"
)

func TestClientAddr(t *testing.T) {
	trusted, err := ParseTrustedProxies([]string{"10.0.0.0/8", " 192.0.2.7 ", "", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"untrusted peer, no header", "203.0.113.5:4000", nil, "203.0.113.5"},
		{"untrusted peer: its header is ignored", "203.0.113.5:4000", []string{"198.51.100.1"}, "203.0.113.5"},
		{"trusted peer without header", "10.1.2.3:4000", nil, "10.1.2.3"},
		{"trusted peer, one hop", "10.1.2.3:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"single trusted address", "192.0.2.7:80", []string{"198.51.100.1"}, "198.51.100.1"},
		{"address next to a trusted one is not trusted", "192.0.2.8:80", []string{"198.51.100.1"}, "192.0.2.8"},
		{"client-forged left entries are skipped", "10.1.2.3:4000", []string{"1.1.1.1, 2.2.2.2, 198.51.100.1"}, "198.51.100.1"},
		{"trusted hops are walked past", "10.1.2.3:4000", []string{"1.1.1.1, 198.51.100.1, 10.9.9.9, 10.8.8.8"}, "198.51.100.1"},
		{"several header lines are one list", "10.1.2.3:4000", []string{"1.1.1.1, 198.51.100.1", "10.9.9.9"}, "198.51.100.1"},
		{"all hops trusted: the left-most", "10.1.2.3:4000", []string{"10.7.7.7, 10.9.9.9"}, "10.7.7.7"},
		{"malformed right-most entry: the peer", "10.1.2.3:4000", []string{"198.51.100.1, not-an-ip"}, "10.1.2.3"},
		{"malformed entry after trusted hops: the last good one", "10.1.2.3:4000", []string{"198.51.100.1, garbage, 10.9.9.9"}, "10.9.9.9"},
		{"empty entry stops the walk", "10.1.2.3:4000", []string{"198.51.100.1, , 10.9.9.9"}, "10.9.9.9"},
		{"empty header: the peer", "10.1.2.3:4000", []string{""}, "10.1.2.3"},
		{"entry with a port", "10.1.2.3:4000", []string{"198.51.100.1:5555"}, "198.51.100.1"},
		{"IPv6 client behind IPv4 proxy", "10.1.2.3:4000", []string{"2a00:1450::1"}, "2a00:1450::1"},
		{"bracketed IPv6 with port", "10.1.2.3:4000", []string{"[2a00:1450::1]:443"}, "2a00:1450::1"},
		{"IPv6 proxy", "[2001:db8::1]:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"untrusted IPv6 peer", "[2a00:1450::9]:4000", []string{"198.51.100.1"}, "2a00:1450::9"},
		{"IPv4-mapped peer matches an IPv4 range", "[::ffff:10.1.2.3]:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"IPv4-mapped client is keyed as IPv4", "10.1.2.3:4000", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"peer without port", "203.0.113.5", nil, "203.0.113.5"},
		{"unparsable peer kept as is", "pipe", []string{"198.51.100.1"}, "pipe"},
	} {
		if got := clientAddr(tc.remote, tc.xff, trusted); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// With no trusted proxies, the header never counts, whoever the peer is.
func TestClientIPTrustsNothingByDefault(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.1.2.3:4000"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	if got := clientIP(r, nil); got != "10.1.2.3" {
		t.Errorf("%q, want the peer", got)
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies([]string{"10.1.2.3/8", "::ffff:172.16.0.0/108", "::ffff:192.0.2.1", "2001:db8::1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "172.16.0.0/12", "192.0.2.1/32", "2001:db8::1/128"}
	if len(got) != len(want) {
		t.Fatalf("%v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("entry %d: %s, want %s", i, got[i], want[i])
		}
	}
	if got, err := ParseTrustedProxies(nil); err != nil || got != nil {
		t.Errorf("empty: %v %v", got, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "lb.internal", "10.0.0", "fe80::1%eth0", "10.0.0.1:80"} {
		if _, err := ParseTrustedProxies([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
