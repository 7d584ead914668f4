package prober

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nonefinity/backend/services/credential/internal/credential"
)

var openAIProbe = credential.Probe{Method: "GET", Path: "/models", ExpectStatus: []int{200}, ModelsField: "data[].id"}

func newProber(t *testing.T, o Options) *Prober {
	t.Helper()
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func bearer(key string) map[string]string { return map[string]string{"Authorization": "Bearer " + key} }

// fakeProvider is an OpenAI-like provider: /v1/models lists models for
// "sk-good", refuses "sk-forbidden" with 403 and any other key with 401.
type fakeProvider struct {
	*httptest.Server
	conns  atomic.Int64
	models int
}

func startFakeProvider(t *testing.T, models int, handler http.HandlerFunc) *fakeProvider {
	t.Helper()
	f := &fakeProvider{models: models}
	if handler == nil {
		handler = f.serveModels
	}
	f.Server = httptest.NewUnstartedServer(handler)
	f.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			f.conns.Add(1)
		}
	}
	f.Start()
	t.Cleanup(f.Close)
	return f
}

func (f *fakeProvider) serveModels(w http.ResponseWriter, r *http.Request) {
	switch r.Header.Get("Authorization") {
	case "Bearer sk-good":
	case "Bearer sk-forbidden":
		http.Error(w, `{"error":"forbidden"}`, http.StatusForbidden)
		return
	default:
		http.Error(w, `{"error":{"message":"Incorrect API key provided"}}`, http.StatusUnauthorized)
		return
	}
	if r.URL.Path != "/v1/models" {
		http.NotFound(w, r)
		return
	}
	type model struct {
		ID string `json:"id"`
	}
	var data []model
	for i := range f.models {
		data = append(data, model{ID: fmt.Sprintf("model-%03d", i)})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data})
}

func TestAllowedHostReachesFakeProvider(t *testing.T) {
	fp := startFakeProvider(t, 3, nil)
	port := fp.Listener.Addr().(*net.TCPAddr).Port
	for name, tc := range map[string]struct {
		allowed []string
		base    string
	}{
		"by ip":       {[]string{"127.0.0.1"}, fp.URL + "/v1"},
		"by name":     {[]string{"localhost"}, fmt.Sprintf("http://localhost:%d/v1", port)},
		"by cidr":     {[]string{"127.0.0.0/8"}, fp.URL + "/v1/"},
		"by hostport": {[]string{fmt.Sprintf("127.0.0.1:%d", port)}, fp.URL + "/v1"},
	} {
		t.Run(name, func(t *testing.T) {
			p := newProber(t, Options{AllowedHosts: tc.allowed})
			res := p.Probe(context.Background(), credential.ProbeTarget{BaseURL: tc.base, Probe: openAIProbe, Headers: bearer("sk-good")})
			if !res.IsValid || res.Message != "API key is valid" {
				t.Fatalf("result = %+v", res)
			}
			if strings.Join(res.Models, ",") != "model-000,model-001,model-002" {
				t.Fatalf("models = %v", res.Models)
			}
			if res.ResponseTime <= 0 {
				t.Errorf("response time not measured: %v", res.ResponseTime)
			}
		})
	}
}

func TestStatusMapping(t *testing.T) {
	fp := startFakeProvider(t, 1, nil)
	p := newProber(t, Options{AllowedHosts: []string{"127.0.0.1"}})
	for _, tc := range []struct {
		key, path, message string
	}{
		{"sk-bad", "/models", "Invalid API key"},
		{"sk-forbidden", "/models", "Access forbidden"},
		{"sk-good", "/nothing-here", "Endpoint not found"},
	} {
		pr := openAIProbe
		pr.Path = tc.path
		res := p.Probe(context.Background(), credential.ProbeTarget{BaseURL: fp.URL + "/v1", Probe: pr, Headers: bearer(tc.key)})
		if res.IsValid || res.Message != tc.message || res.Models != nil {
			t.Errorf("%s: result = %+v, want invalid %q", tc.key, res, tc.message)
		}
		if strings.Contains(res.ErrorDetails, "Incorrect API key") || strings.Contains(res.ErrorDetails, tc.key) {
			t.Errorf("details echo the provider's body or the key: %q", res.ErrorDetails)
		}
	}
	for status, message := range map[int]string{429: "Rate limited by the provider", 502: "Provider error", 418: "Unexpected response"} {
		fs := startFakeProvider(t, 0, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) })
		res := p.Probe(context.Background(), credential.ProbeTarget{BaseURL: fs.URL, Probe: openAIProbe})
		if res.IsValid || res.Message != message || !strings.Contains(res.ErrorDetails, fmt.Sprint(status)) {
			t.Errorf("HTTP %d: result = %+v, want %q", status, res, message)
		}
	}
}

func TestModelListCapped(t *testing.T) {
	fp := startFakeProvider(t, 500, nil)
	p := newProber(t, Options{AllowedHosts: []string{"127.0.0.1"}})
	res := p.Probe(context.Background(), credential.ProbeTarget{BaseURL: fp.URL + "/v1", Probe: openAIProbe, Headers: bearer("sk-good")})
	if !res.IsValid || len(res.Models) != credential.MaxModels || res.Models[199] != "model-199" {
		t.Fatalf("valid=%v, %d models (last %q), want %d", res.IsValid, len(res.Models), res.Models[len(res.Models)-1], credential.MaxModels)
	}
}

func TestBodyReadCapped(t *testing.T) {
	var written atomic.Int64
	fs := startFakeProvider(t, 0, func(w http.ResponseWriter, r *http.Request) {
		// A 3 MiB reply: the prober must stop reading after 1 MiB.
		chunk := []byte(strings.Repeat(" ", 64<<10))
		_, _ = w.Write([]byte(`{"data":[`))
		for range 48 {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
		_, _ = w.Write([]byte(`{"id":"late"}]}`))
	})
	p := newProber(t, Options{AllowedHosts: []string{"127.0.0.1"}})
	res := p.Probe(context.Background(), credential.ProbeTarget{BaseURL: fs.URL, Probe: openAIProbe})
	if !res.IsValid || res.Models != nil || !strings.Contains(res.ErrorDetails, "1 MiB") {
		t.Fatalf("result = %+v", res)
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	fs := startFakeProvider(t, 0, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	p := newProber(t, Options{AllowedHosts: []string{"127.0.0.1"}, Timeout: 200 * time.Millisecond})
	res := p.Probe(context.Background(), credential.ProbeTarget{BaseURL: fs.URL, Probe: openAIProbe})
	if res.IsValid || res.Message != "Request timed out" {
		t.Fatalf("result = %+v, want a timeout", res)
	}
}

func TestDNSFailure(t *testing.T) {
	noDNS := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no DNS server in this test")
	}}
	p := newProber(t, Options{Resolver: noDNS})
	res := p.Probe(context.Background(), credential.ProbeTarget{BaseURL: "https://api.provider.invalid/v1", Probe: openAIProbe})
	if res.IsValid || res.Message != "Could not resolve host" || !strings.Contains(res.ErrorDetails, "api.provider.invalid") {
		t.Fatalf("result = %+v", res)
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := newProber(t, Options{AllowedHosts: []string{"127.0.0.1"}})
	res := p.Probe(context.Background(), credential.ProbeTarget{BaseURL: "http://" + addr, Probe: openAIProbe})
	if res.IsValid || res.Message != "Connection refused" {
		t.Fatalf("result = %+v", res)
	}
}

// Every refused range is refused at dial time, before a connection is
// attempted: the loopback target below is a real server that must see no
// connection, and the other addresses would hang or fail differently if a
// packet were sent.
func TestRefusedAddresses(t *testing.T) {
	fp := startFakeProvider(t, 1, nil)
	port := fp.Listener.Addr().(*net.TCPAddr).Port
	p := newProber(t, Options{Timeout: 2 * time.Second})
	for _, tc := range []struct{ host, reason string }{
		{"127.0.0.1", "loopback"},
		{"localhost", "loopback"},
		{"10.1.2.3", "private"},
		{"172.16.5.4", "private"},
		{"192.168.1.1", "private"},
		{"169.254.169.254", "cloud metadata"},
		{"169.254.10.1", "link-local"},
		{"[::1]", "loopback"},
		{"[fc00::1]", "private"},
		{"[fd00:ec2::254]", "cloud metadata"},
		{"[fe80::1]", "link-local"},
		{"0.0.0.0", "unspecified"},
		{"[::]", "unspecified"},
		{"100.64.0.1", "carrier-grade NAT"},
		{"[::ffff:127.0.0.1]", "loopback"},
		{"[::ffff:10.0.0.1]", "private"},
		{"[64:ff9b::a9fe:a9fe]", "cloud metadata (embedded in IPv6)"},
		{"224.0.0.1", "multicast"},
	} {
		t.Run(tc.host, func(t *testing.T) {
			base := fmt.Sprintf("http://%s:%d/v1", tc.host, port)
			res := p.Probe(context.Background(), credential.ProbeTarget{BaseURL: base, Probe: openAIProbe, Headers: bearer("sk-good")})
			if res.IsValid || res.Message != "Address not allowed" {
				t.Fatalf("result = %+v, want refused", res)
			}
			if !strings.Contains(res.ErrorDetails, tc.reason) || !strings.Contains(res.ErrorDetails, "CREDENTIAL_ALLOWED_HOSTS") {
				t.Errorf("details = %q, want the reason %q", res.ErrorDetails, tc.reason)
			}
		})
	}
	if n := fp.conns.Load(); n != 0 {
		t.Fatalf("the loopback server saw %d connections; the guard must refuse before connecting", n)
	}
}

func TestRefusedReason(t *testing.T) {
	for ip, want := range map[string]string{
		"8.8.8.8": "", "1.1.1.1": "", "2606:4700:4700::1111": "", "100.63.255.255": "", "100.128.0.0": "",
		"172.15.255.255": "", "172.32.0.0": "", "::ffff:8.8.8.8": "", "64:ff9b::808:808": "",
		"127.9.9.9": "loopback", "172.31.255.255": "private", "0.1.2.3": "this-network",
		"255.255.255.255": "reserved", "198.18.0.1": "benchmarking", "2002:a00:1::": "private (embedded in IPv6)",
		"fd12:3456::1": "private", "ff02::1": "multicast",
		"192.0.2.1": "documentation", "198.51.100.255": "documentation", "203.0.113.9": "documentation",
		"2001:db8::1": "documentation", "2001:db8:ffff::": "documentation", "192.0.3.0": "", "203.0.114.1": "",
		"::7f00:1": "IPv4-compatible", "::808:808": "IPv4-compatible", "::1:0:0": "",
		"64:ff9b::c000:201": "documentation (embedded in IPv6)",
	} {
		if got := refusedReason(netip.MustParseAddr(ip)); got != want {
			t.Errorf("refusedReason(%s) = %q, want %q", ip, got, want)
		}
	}
}

func TestRedirects(t *testing.T) {
	other := startFakeProvider(t, 1, nil)
	fs := startFakeProvider(t, 2, nil)
	redirecting := startFakeProvider(t, 0, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same/models":
			http.Redirect(w, r, "/v1/models", http.StatusTemporaryRedirect)
		case "/v1/models":
			fs.serveModels(w, r)
		default:
			http.Redirect(w, r, other.URL+"/v1/models", http.StatusFound)
		}
	})
	p := newProber(t, Options{AllowedHosts: []string{"127.0.0.1"}})
	same := p.Probe(context.Background(), credential.ProbeTarget{BaseURL: redirecting.URL + "/same", Probe: openAIProbe, Headers: bearer("sk-good")})
	if !same.IsValid || len(same.Models) != 2 {
		t.Fatalf("same-host redirect: %+v", same)
	}
	cross := p.Probe(context.Background(), credential.ProbeTarget{BaseURL: redirecting.URL + "/elsewhere", Probe: openAIProbe, Headers: bearer("sk-good")})
	if cross.IsValid || cross.Message != "Unexpected redirect" {
		t.Fatalf("cross-host redirect: %+v", cross)
	}
	if n := other.conns.Load(); n != 0 {
		t.Fatalf("the redirect target received %d connections (and the key)", n)
	}
}

func TestAllowListParsing(t *testing.T) {
	if _, err := New(Options{AllowedHosts: []string{"ollama.lan", " 10.0.0.0/8 ", "[::1]:11434", "", "Host.Example."}}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"http://ollama.lan/", "*.lan"} {
		if _, err := New(Options{AllowedHosts: []string{bad}}); err == nil {
			t.Errorf("allowed host %q accepted", bad)
		}
	}
	a, _ := parseAllowList([]string{"Host.Example.", "10.0.0.0/8", "[::1]:11434"})
	if !a.host("host.example") || a.host("other.example") || !a.ip(netip.MustParseAddr("10.9.9.9")) ||
		!a.ip(netip.MustParseAddr("::1")) || a.ip(netip.MustParseAddr("192.168.0.1")) {
		t.Fatalf("allow list = %+v", a)
	}
}

// The machine's own addresses are refused whatever their range: a public
// address of the host reaches what listens on all its interfaces. Nothing
// is dialed here; the listing is injected.
func TestOwnAddressesRefused(t *testing.T) {
	own := []net.Addr{
		&net.IPNet{IP: net.ParseIP("9.9.9.9"), Mask: net.CIDRMask(24, 32)},
		&net.IPNet{IP: net.ParseIP("2606:4700::6810:84e5"), Mask: net.CIDRMask(64, 128)},
	}
	listings := 0
	g := guard{host: newHostAddrs(func() ([]net.Addr, error) { listings++; return own, nil })}
	for ip, want := range map[string]string{
		"9.9.9.9":              ownAddressReason,
		"::ffff:9.9.9.9":       ownAddressReason,
		"64:ff9b::909:909":     ownAddressReason + " (embedded in IPv6)",
		"2606:4700::6810:84e5": ownAddressReason,
		"9.9.9.10":             "",
		"10.0.0.1":             "private",
	} {
		var refused *refusedError
		err := g.check(netip.MustParseAddr(ip))
		switch {
		case want == "" && err != nil:
			t.Errorf("%s refused: %v", ip, err)
		case want != "" && (!errors.As(err, &refused) || refused.reason != want):
			t.Errorf("%s: %v, want refused as %q", ip, err, want)
		}
	}
	if listings != 1 {
		t.Errorf("interfaces listed %d times within %s, want once", listings, hostAddrsMaxAge)
	}

	// An allowed address is reached even when it is the host's own.
	allow, _ := parseAllowList([]string{"9.9.9.9"})
	if err := (guard{allow: allow, host: g.host}).check(netip.MustParseAddr("9.9.9.9")); err != nil {
		t.Errorf("allowed own address refused: %v", err)
	}

	// Without any listing every dial is refused; a failed refresh keeps the
	// last listing.
	failing := guard{host: newHostAddrs(func() ([]net.Addr, error) { return nil, errors.New("netlink down") })}
	if err := failing.check(netip.MustParseAddr("8.8.8.8")); err == nil {
		t.Error("a dial was allowed although the host's addresses are unknown")
	}
	fails := false
	stale := newHostAddrs(func() ([]net.Addr, error) {
		if fails {
			return nil, errors.New("netlink down")
		}
		return own, nil
	})
	stale.maxAge = 0
	if ok, err := stale.contains(netip.MustParseAddr("9.9.9.9")); !ok || err != nil {
		t.Fatalf("first listing: %v, %v", ok, err)
	}
	fails = true
	if ok, err := stale.contains(netip.MustParseAddr("9.9.9.9")); !ok || err != nil {
		t.Fatalf("after a failed refresh: %v, %v; want the last listing", ok, err)
	}
}

// Every address of this machine's interfaces is refused at dial time: a
// server listening on each of them sees no connection. Listed explicitly in
// CREDENTIAL_ALLOWED_HOSTS, the same address is reached.
func TestInterfaceAddressesRefused(t *testing.T) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	p := newProber(t, Options{Timeout: 2 * time.Second})
	tested := 0
	for ip := range addrSet(addrs) {
		if ip.IsLinkLocalUnicast() {
			continue // needs a zone to listen on; refused as link-local anyway
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
		if err != nil {
			t.Logf("cannot listen on %s: %v", ip, err)
			continue
		}
		fp := &fakeProvider{models: 1}
		fp.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fp.serveModels(w, r) }))
		fp.Listener.Close()
		fp.Listener = ln
		fp.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				fp.conns.Add(1)
			}
		}
		fp.Start()
		t.Cleanup(fp.Close)
		tested++

		base := "http://" + ln.Addr().String() + "/v1"
		res := p.Probe(context.Background(), credential.ProbeTarget{BaseURL: base, Probe: openAIProbe, Headers: bearer("sk-good")})
		if res.IsValid || res.Message != "Address not allowed" {
			t.Errorf("%s: result = %+v, want refused", ip, res)
		}
		if !ip.IsLoopback() && !strings.Contains(res.ErrorDetails, "private") && !strings.Contains(res.ErrorDetails, ownAddressReason) &&
			!strings.Contains(res.ErrorDetails, "documentation") {
			t.Errorf("%s: details %q name no reason", ip, res.ErrorDetails)
		}
		if n := fp.conns.Load(); n != 0 {
			t.Errorf("%s: the server saw %d connections", ip, n)
		}

		allowed := newProber(t, Options{AllowedHosts: []string{ip.String()}})
		if res := allowed.Probe(context.Background(), credential.ProbeTarget{BaseURL: base, Probe: openAIProbe, Headers: bearer("sk-good")}); !res.IsValid {
			t.Errorf("%s allowed explicitly: %+v", ip, res)
		}
	}
	if tested == 0 {
		t.Fatal("no interface address could be listened on")
	}
}

// The probe path is always the base URL's path plus the provider's probe
// path: nothing in a base URL turns it into a query or fragment.
func TestProbePathCannotBeReplaced(t *testing.T) {
	var (
		mu       sync.Mutex
		received []string
	)
	fp := startFakeProvider(t, 1, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		received = append(received, r.URL.RequestURI())
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
	requested := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := received
		received = nil
		return out
	}
	p := newProber(t, Options{AllowedHosts: []string{"127.0.0.1"}})
	for _, base := range []string{fp.URL + "/admin?", fp.URL + "/admin/?", fp.URL + "/admin#", fp.URL + "/admin?a=b", fp.URL + "/#x"} {
		res := p.Probe(context.Background(), credential.ProbeTarget{BaseURL: base, Probe: openAIProbe, Headers: bearer("sk-good")})
		if res.IsValid || res.Message != "Invalid provider URL" || !strings.Contains(res.ErrorDetails, "query or fragment") {
			t.Errorf("base %q: %+v", base, res)
		}
	}
	if paths := requested(); len(paths) != 0 {
		t.Fatalf("refused base URLs still sent requests to %v", paths)
	}
	for base, want := range map[string]string{
		fp.URL:                 "/models",
		fp.URL + "/v1":         "/v1/models",
		fp.URL + "/v1/":        "/v1/models",
		fp.URL + "/a%3Fb":      "/a%3Fb/models",
		fp.URL + "/v1/../v2//": "/v2/models",
	} {
		res := p.Probe(context.Background(), credential.ProbeTarget{BaseURL: base, Probe: openAIProbe, Headers: bearer("sk-good")})
		if paths := requested(); !res.IsValid || len(paths) != 1 || paths[0] != want {
			t.Errorf("base %q: requested %v, want %s (%+v)", base, paths, want, res)
		}
	}
	// A probe path may carry its own query; it stays the probe's.
	p.Probe(context.Background(), credential.ProbeTarget{BaseURL: fp.URL + "/v1", Probe: credential.Probe{Path: "/models?limit=1"}})
	if paths := requested(); len(paths) != 1 || paths[0] != "/v1/models?limit=1" {
		t.Errorf("probe with a query requested %v", paths)
	}
}
