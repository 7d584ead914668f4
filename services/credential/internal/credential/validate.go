package credential

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Input limits.
const (
	MaxNameLength      = 100
	MaxKeyBytes        = 4 << 10
	MaxBaseURLLength   = 2048
	MaxExtraHeaders    = 32
	MaxHeaderValueSize = 8 << 10
)

// Headers a credential may not set: the transport owns them.
var reservedHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Connection": true,
	"Upgrade": true, "Te": true, "Trailer": true, "Keep-Alive": true, "Proxy-Authorization": true,
}

// normalizeName trims a credential name and checks its length (1–100
// characters).
func normalizeName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return "", invalid("name", "must not be empty")
	case n > MaxNameLength:
		return "", invalid("name", "must be at most %d characters", MaxNameLength)
	}
	if hasControl(name) {
		return "", invalid("name", "must not contain control characters")
	}
	return name, nil
}

// normalizeKey trims an API key and checks it: non-empty unless the
// provider needs none, at most 4 KiB, and free of control characters (it
// travels in a header).
func normalizeKey(key string, required bool) (string, error) {
	key = strings.TrimSpace(key)
	switch {
	case key == "" && required:
		return "", invalid("api_key", "must not be empty")
	case len(key) > MaxKeyBytes:
		return "", invalid("api_key", "must be at most %d bytes", MaxKeyBytes)
	case hasControl(key):
		return "", invalid("api_key", "must not contain control characters")
	}
	return key, nil
}

// normalizeBaseURL trims a base URL and checks that it is an absolute
// http(s) URL with a host and no user info; empty means "the provider's".
func normalizeBaseURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	if len(raw) > MaxBaseURLLength {
		return "", invalid("base_url", "must be at most %d characters", MaxBaseURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Hostname() == "" {
		return "", invalid("base_url", "must be an absolute http(s) URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", invalid("base_url", "must use http or https")
	}
	if u.User != nil {
		return "", invalid("base_url", "must not contain user info; put the key in api_key")
	}
	// The probe path is appended to the base URL's path; a query or
	// fragment, even an empty one ("…/v1?"), would swallow it. url.URL keeps
	// no trace of a bare "#", hence the look at the raw text.
	if strings.ContainsAny(raw, "?#") {
		return "", invalid("base_url", "must not have a query or fragment")
	}
	return strings.TrimRight(raw, "/"), nil
}

// validateHeaders checks extra headers: valid names and values, none that
// would replace the provider's key header or a transport header.
func validateHeaders(headers map[string]string, keyHeader string) error {
	if len(headers) > MaxExtraHeaders {
		return invalid("additional_headers", "at most %d headers", MaxExtraHeaders)
	}
	for name, value := range headers {
		if !isToken(name) {
			return invalid("additional_headers", "%q is not a valid header name", name)
		}
		canon := http.CanonicalHeaderKey(name)
		if keyHeader != "" && canon == http.CanonicalHeaderKey(keyHeader) {
			return invalid("additional_headers", "cannot override the key header %s", keyHeader)
		}
		if reservedHeaders[canon] {
			return invalid("additional_headers", "cannot set %s", canon)
		}
		if len(value) > MaxHeaderValueSize || strings.ContainsAny(value, "\r\n\x00") {
			// The value is not echoed: it may be a secret.
			return invalid("additional_headers", "value of %s is not a valid header value", canon)
		}
	}
	return nil
}

// isToken reports whether s is an HTTP token (RFC 9110 tchar+).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

// Mask hides a key for display: keys of up to 8 characters entirely, up to
// 12 all but the first and last 2, longer ones all but the first and last 4.
func Mask(key string) string {
	r := []rune(key)
	n := len(r)
	switch {
	case n == 0:
		return ""
	case n <= 8:
		return strings.Repeat("*", n)
	case n <= 12:
		return string(r[:2]) + strings.Repeat("*", n-4) + string(r[n-2:])
	default:
		return string(r[:4]) + strings.Repeat("*", n-8) + string(r[n-4:])
	}
}

// last4 is the key's last four characters for keys long enough that the
// mask shows them anyway, and empty otherwise.
func last4(key string) string {
	r := []rune(key)
	if len(r) <= 12 {
		return ""
	}
	return string(r[len(r)-4:])
}
