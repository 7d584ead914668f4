package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	svix "github.com/svix/svix-webhooks/go"
)

// ParseSecrets splits CLERK_WEBHOOK_SECRET: during a rotation it holds the
// old and the new signing secret, comma-separated, and a delivery signed
// with either is accepted. Blank entries are dropped.
func ParseSecrets(csv string) []string {
	var out []string
	for _, s := range strings.Split(csv, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// verifier checks a delivery's svix-id, svix-timestamp and svix-signature
// headers (the signature header may carry several space-separated
// signatures) against every configured secret. The svix library enforces
// the ±5 minute timestamp tolerance.
type verifier struct {
	hooks []*svix.Webhook
}

func newVerifier(secrets []string) (*verifier, error) {
	v := &verifier{}
	for i, s := range secrets {
		wh, err := svix.NewWebhook(s)
		if err != nil {
			// The decoding error names a byte offset, never the secret.
			return nil, fmt.Errorf("webhook secret %d of %d is not a whsec_ base64 secret: %w", i+1, len(secrets), err)
		}
		v.hooks = append(v.hooks, wh)
	}
	return v, nil
}

var errNoSecrets = errors.New("no webhook secret configured")

// verify returns nil when any secret verifies the delivery. Otherwise it
// returns the library's reason (missing headers, timestamp too old or too
// new, no matching signature), which holds nothing secret.
func (v *verifier) verify(body []byte, h http.Header) error {
	if len(v.hooks) == 0 {
		return errNoSecrets
	}
	var last error
	for _, wh := range v.hooks {
		if last = wh.Verify(body, h); last == nil {
			return nil
		}
	}
	return last
}

// deliveryID is the delivery's svix id; svix also accepts the standard
// webhooks header name, so do we.
func deliveryID(h http.Header) string {
	if id := h.Get("svix-id"); id != "" {
		return id
	}
	return h.Get("webhook-id")
}
