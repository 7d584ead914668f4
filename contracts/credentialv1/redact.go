package credentialv1

import (
	"fmt"
	"log/slog"
)

// Printing or logging a request must never leak the key it carries, so the
// types that hold a plaintext key or secret implement fmt.Formatter and
// slog.LogValuer with the secret replaced. Header values are redacted too:
// a custom header may well be a second credential.

// Redacted replaces a secret in printed and logged values.
const Redacted = "[redacted]"

func redact(s string) string {
	if s == "" {
		return ""
	}
	return Redacted
}

func redactPtr(s *string) *string {
	if s == nil {
		return nil
	}
	r := redact(*s)
	return &r
}

func redactValues(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = redact(v)
	}
	return out
}

// printRedacted prints a method-less copy with the verb and flags asked for.
func printRedacted(f fmt.State, verb rune, shown any) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), shown)
}

func (r CreateRequest) redacted() any {
	type shown CreateRequest
	s := shown(r)
	s.APIKey = redact(s.APIKey)
	s.AdditionalHeaders = redactValues(s.AdditionalHeaders)
	return s
}

// Format prints the request with the key redacted.
func (r CreateRequest) Format(f fmt.State, verb rune) { printRedacted(f, verb, r.redacted()) }

// LogValue logs the request with the key redacted.
func (r CreateRequest) LogValue() slog.Value { return slog.AnyValue(r.redacted()) }

// updateShown is UpdateRequest for printing: fmt shows pointers as
// addresses, so set fields are shown by value and unset ones as <nil>.
type updateShown struct {
	ID                string            `json:"id"`
	Name              any               `json:"name,omitempty"`
	APIKey            any               `json:"api_key,omitempty"`
	BaseURL           any               `json:"base_url,omitempty"`
	IsActive          any               `json:"is_active,omitempty"`
	AdditionalHeaders map[string]string `json:"additional_headers,omitempty"`
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func (r UpdateRequest) redacted() any {
	s := updateShown{
		ID:       r.ID,
		Name:     deref(r.Name),
		APIKey:   deref(redactPtr(r.APIKey)),
		BaseURL:  deref(r.BaseURL),
		IsActive: deref(r.IsActive),
	}
	if r.AdditionalHeaders != nil {
		s.AdditionalHeaders = redactValues(*r.AdditionalHeaders)
	}
	return s
}

// Format prints the request with the key redacted.
func (r UpdateRequest) Format(f fmt.State, verb rune) { printRedacted(f, verb, r.redacted()) }

// LogValue logs the request with the key redacted.
func (r UpdateRequest) LogValue() slog.Value { return slog.AnyValue(r.redacted()) }

func (r TestRequest) redacted() any {
	type shown TestRequest
	s := shown(r)
	s.APIKey = redact(s.APIKey)
	return s
}

// Format prints the request with the key redacted.
func (r TestRequest) Format(f fmt.State, verb rune) { printRedacted(f, verb, r.redacted()) }

// LogValue logs the request with the key redacted.
func (r TestRequest) LogValue() slog.Value { return slog.AnyValue(r.redacted()) }

func (r ResolveReply) redacted() any {
	type shown ResolveReply
	s := shown(r)
	s.APIKey = redact(s.APIKey)
	s.Headers = redactValues(s.Headers)
	return s
}

// Format prints the reply with the key redacted.
func (r ResolveReply) Format(f fmt.State, verb rune) { printRedacted(f, verb, r.redacted()) }

// LogValue logs the reply with the key redacted.
func (r ResolveReply) LogValue() slog.Value { return slog.AnyValue(r.redacted()) }

func (r GenerateKeyReply) redacted() any {
	type shown GenerateKeyReply
	s := shown(r)
	s.SecureKey = redact(s.SecureKey)
	return s
}

// Format prints the reply with the generated secret redacted.
func (r GenerateKeyReply) Format(f fmt.State, verb rune) { printRedacted(f, verb, r.redacted()) }

// LogValue logs the reply with the generated secret redacted.
func (r GenerateKeyReply) LogValue() slog.Value { return slog.AnyValue(r.redacted()) }
