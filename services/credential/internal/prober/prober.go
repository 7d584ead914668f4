// Package prober tests a key by calling its provider: one request, the
// provider's validation probe, through an HTTP client that bounds time and
// reply size and refuses to reach the service's own network (see guard.go).
package prober

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/nonefinity/backend/services/credential/internal/credential"
)

// Defaults.
const (
	DefaultTimeout = 10 * time.Second
	// MaxBody caps how much of a reply is read.
	MaxBody      = 1 << 20
	maxRedirects = 3
	userAgent    = "nonefinity-credential/1 (key test)"
)

// Options configure a Prober.
type Options struct {
	// Timeout bounds one probe, connect to last byte; default 10s.
	Timeout time.Duration
	// AllowedHosts (CREDENTIAL_ALLOWED_HOSTS) may be reached although they
	// are local: host names, IP addresses or CIDR prefixes.
	AllowedHosts []string
	// Resolver resolves host names; nil is the system resolver.
	Resolver *net.Resolver
	// hostAddrs lists this machine's addresses; nil is net.InterfaceAddrs.
	hostAddrs func() ([]net.Addr, error)
}

// Prober runs validation probes.
type Prober struct {
	client  *http.Client
	timeout time.Duration
}

var _ credential.Prober = (*Prober)(nil)

var errCrossHostRedirect = errors.New("redirect to another host")

// New builds a Prober; an unparseable allowed host is an error.
func New(o Options) (*Prober, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	allow, err := parseAllowList(o.AllowedHosts)
	if err != nil {
		return nil, err
	}
	g := guard{allow: allow, host: newHostAddrs(o.hostAddrs)}
	plain := &net.Dialer{Timeout: o.Timeout, Resolver: o.Resolver}
	guarded := &net.Dialer{Timeout: o.Timeout, Resolver: o.Resolver,
		// Control runs after the socket is made and before it connects,
		// once per resolved address: a refused address gets no packet.
		Control: func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(host)
			if err != nil {
				return fmt.Errorf("dial target %q is not an IP address", host)
			}
			return g.check(ip)
		},
	}
	transport := &http.Transport{
		// Never through an environment proxy: the guard must see the
		// provider's address, not the proxy's.
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err == nil && allow.host(host) {
				return plain.DialContext(ctx, network, addr)
			}
			return guarded.DialContext(ctx, network, addr)
		},
		TLSHandshakeTimeout:   o.Timeout,
		ResponseHeaderTimeout: o.Timeout,
		MaxIdleConns:          32,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	client := &http.Client{
		Transport: transport,
		Timeout:   o.Timeout,
		// The key travels in headers that Go forwards on redirects, so a
		// redirect may only stay on the same host (every hop is dialed
		// through the guard as well).
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			if req.URL.Host != via[0].URL.Host {
				return errCrossHostRedirect
			}
			return nil
		},
	}
	return &Prober{client: client, timeout: o.Timeout}, nil
}

// Probe runs one probe and reports the outcome; it never returns an error:
// every failure is an invalid result with a message saying why.
func (p *Prober) Probe(ctx context.Context, t credential.ProbeTarget) credential.TestResult {
	target, err := probeURL(t.BaseURL, t.Probe.Path)
	if err != nil {
		return credential.TestResult{Message: "Invalid provider URL", ErrorDetails: err.Error()}
	}
	method := t.Probe.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, target.String(), nil)
	if err != nil {
		return credential.TestResult{Message: "Invalid provider URL", ErrorDetails: "the probe request cannot be built"}
	}
	for k, v := range t.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("User-Agent", userAgent)
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}

	started := time.Now()
	resp, err := p.client.Do(req)
	if err != nil {
		res := p.transportFailure(ctx, target.Hostname(), err)
		res.ResponseTime = time.Since(started)
		return res
	}
	defer resp.Body.Close()
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	res := outcome(resp.StatusCode, t.Probe)
	res.ResponseTime = time.Since(started)
	switch {
	case !res.IsValid || t.Probe.ModelsField == "":
	case readErr != nil:
		res.ErrorDetails = "the reply could not be read completely; no model list"
	case len(body) > MaxBody:
		res.ErrorDetails = "the reply is larger than 1 MiB; no model list"
	default:
		var doc any
		if json.Unmarshal(body, &doc) == nil {
			res.Models = credential.ExtractModels(doc, t.Probe.ModelsField, credential.MaxModels)
		}
	}
	return res
}

// probeURL is the base URL with the probe's path appended to its path. The
// base is parsed on its own, so nothing in it (a trailing "?" or "#", say)
// can turn the probe path into a query or fragment and leave the caller in
// charge of the path the key is sent to.
func probeURL(base, probePath string) (*url.URL, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, errors.New("the base URL must be an absolute http(s) URL")
	}
	// A bare "?" or "#" leaves no trace in url.URL but the raw text.
	if strings.ContainsAny(base, "?#") {
		return nil, errors.New("the base URL must not have a query or fragment")
	}
	ref, err := url.Parse(probePath)
	if err != nil || ref.Scheme != "" || ref.Host != "" || ref.Fragment != "" {
		return nil, errors.New("the provider's probe path is not a path")
	}
	u = u.JoinPath(ref.EscapedPath())
	u.RawQuery = ref.RawQuery
	return u, nil
}

// outcome maps the provider's status to a result.
func outcome(status int, pr credential.Probe) credential.TestResult {
	expect := pr.ExpectStatus
	if len(expect) == 0 {
		expect = []int{http.StatusOK}
	}
	if slices.Contains(expect, status) {
		return credential.TestResult{IsValid: true, Message: "API key is valid"}
	}
	details := fmt.Sprintf("provider answered HTTP %d", status)
	switch {
	case status == http.StatusUnauthorized:
		return credential.TestResult{Message: "Invalid API key", ErrorDetails: details}
	case status == http.StatusForbidden:
		return credential.TestResult{Message: "Access forbidden", ErrorDetails: details}
	case status == http.StatusNotFound:
		return credential.TestResult{Message: "Endpoint not found", ErrorDetails: details + " for " + pr.Path + "; check the base URL"}
	case status == http.StatusTooManyRequests:
		return credential.TestResult{Message: "Rate limited by the provider", ErrorDetails: details + "; try again later"}
	case status >= 500:
		return credential.TestResult{Message: "Provider error", ErrorDetails: details}
	}
	return credential.TestResult{Message: "Unexpected response", ErrorDetails: details}
}

// transportFailure explains a request that got no response. The messages
// name the host at most: the key is in headers, never in the URL.
func (p *Prober) transportFailure(ctx context.Context, host string, err error) credential.TestResult {
	var (
		refused *refusedError
		dnsErr  *net.DNSError
		certErr *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		netErr  net.Error
	)
	switch {
	case errors.As(err, &refused):
		return credential.TestResult{Message: "Address not allowed",
			ErrorDetails: fmt.Sprintf("%s resolves to a %s address; list the host in CREDENTIAL_ALLOWED_HOSTS to allow it", host, refused.reason)}
	case errors.Is(err, errCrossHostRedirect):
		return credential.TestResult{Message: "Unexpected redirect", ErrorDetails: "the provider redirected to another host; the key is not sent there"}
	case errors.As(err, &dnsErr):
		if dnsErr.IsTimeout {
			return credential.TestResult{Message: "DNS lookup timed out", ErrorDetails: "could not resolve " + host + " in time"}
		}
		return credential.TestResult{Message: "Could not resolve host", ErrorDetails: "DNS lookup failed for " + host}
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil,
		errors.As(err, &netErr) && netErr.Timeout():
		return credential.TestResult{Message: "Request timed out", ErrorDetails: fmt.Sprintf("no complete answer from %s within %s", host, p.timeout)}
	case ctx.Err() != nil:
		return credential.TestResult{Message: "Request cancelled", ErrorDetails: "the caller stopped waiting"}
	case errors.Is(err, syscall.ECONNREFUSED):
		return credential.TestResult{Message: "Connection refused", ErrorDetails: host + " refused the connection"}
	case errors.As(err, &certErr), errors.As(err, &unknown):
		return credential.TestResult{Message: "TLS error", ErrorDetails: "the certificate of " + host + " is not trusted"}
	}
	return credential.TestResult{Message: "Connection failed", ErrorDetails: "could not reach " + host}
}
