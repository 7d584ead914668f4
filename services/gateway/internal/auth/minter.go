package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/rpcerr"
)

// DevTokenTTL is how long a token from create-token lives.
const DevTokenTTL = 24 * time.Hour

// ErrInvalidMintRequest means the create-token parameters are wrong. The
// error in the chain is a *MintRequestError naming the parameter.
var ErrInvalidMintRequest = errors.New("invalid token request")

// MintRequestError is a create-token parameter problem.
type MintRequestError struct {
	Field  string // clerk_id or role
	Reason string
}

func (e *MintRequestError) Error() string {
	return ErrInvalidMintRequest.Error() + ": " + e.Field + ": " + e.Reason
}

// Is makes errors.Is(err, ErrInvalidMintRequest) hold.
func (e *MintRequestError) Is(target error) bool { return target == ErrInvalidMintRequest }

func badMint(field, reason string) error { return &MintRequestError{Field: field, Reason: reason} }

// MintError converts a TokenMinter error into the rpcerr the gateway answers
// with: bad parameters 422 naming the field, an unknown Clerk user 404,
// anything else from Clerk (including a rejected secret key, which is our
// misconfiguration, not the caller's) 503. Other errors are returned as they
// are (500).
func MintError(err error) error {
	if err == nil {
		return nil
	}
	var bad *MintRequestError
	if errors.As(err, &bad) {
		return rpcerr.Invalid(bad.Field, bad.Reason)
	}
	var api *ClerkAPIError
	if errors.As(err, &api) && api.Status == http.StatusNotFound {
		return rpcerr.New(rpcerr.NotFound, "clerk user not found")
	}
	if errors.Is(err, ErrClerkRejected) || errors.Is(err, ErrClerkUnavailable) {
		return rpcerr.New(rpcerr.Unavailable, "clerk backend api unavailable")
	}
	return err
}

// ErrClerkRejected means Clerk's Backend API refused the request (a 4xx such
// as an unknown user id or a bad secret key). The *ClerkAPIError in the chain
// has the status.
var ErrClerkRejected = errors.New("clerk backend api rejected the request")

// ErrClerkUnavailable means Clerk's Backend API could not be reached or
// failed (network error, timeout, 429 or 5xx): retry later (HTTP 503).
var ErrClerkUnavailable = errors.New("clerk backend api unavailable")

// TokenReply is what create-token answers.
type TokenReply struct {
	Token            string `json:"token"`
	SessionID        string `json:"session_id"`
	ExpiresInSeconds int64  `json:"expires_in_seconds"`
}

// TokenMinter makes a session token for a Clerk user id, for development and
// tests (GET /api/v1/auth/create-token, dev only). role is "", "user" or
// "admin".
type TokenMinter interface {
	Mint(ctx context.Context, clerkID, role string) (TokenReply, error)
}

// DevMinter mints tokens with the gateway's own dev key.
type DevMinter struct {
	keys *DevKeys
	ttl  time.Duration
}

// NewDevMinter mints DevTokenTTL tokens with keys.
func NewDevMinter(keys *DevKeys) *DevMinter { return &DevMinter{keys: keys, ttl: DevTokenTTL} }

// Mint implements TokenMinter.
func (m *DevMinter) Mint(_ context.Context, clerkID, role string) (TokenReply, error) {
	token, sid, err := m.keys.Mint(clerkID, role, m.ttl)
	if err != nil {
		return TokenReply{}, err
	}
	return TokenReply{Token: token, SessionID: sid, ExpiresInSeconds: int64(m.ttl / time.Second)}, nil
}

// DefaultClerkAPIURL is Clerk's Backend API.
const DefaultClerkAPIURL = "https://api.clerk.com"

const (
	clerkTimeout      = 10 * time.Second
	clerkMaxBodyBytes = 1 << 20
)

// ClerkMinterConfig configures a ClerkMinter.
type ClerkMinterConfig struct {
	SecretKey string       // CLERK_SECRET_KEY
	BaseURL   string       // CLERK_API_URL; empty means DefaultClerkAPIURL
	Client    *http.Client // nil: a default client; every call has a 10 s timeout
	TokenTTL  time.Duration
}

// ClerkMinter gets real Clerk session tokens through the Backend API: it
// creates a session for the user, then a token for that session. Clerk
// allows creating sessions this way only on development instances, which is
// where create-token exists.
type ClerkMinter struct {
	secret string
	base   string
	client *http.Client
	ttl    time.Duration
}

// NewClerkMinter checks the configuration.
func NewClerkMinter(cfg ClerkMinterConfig) (*ClerkMinter, error) {
	if strings.TrimSpace(cfg.SecretKey) == "" {
		return nil, errors.New("clerk minter needs CLERK_SECRET_KEY")
	}
	base := strings.TrimRight(strings.TrimSpace(cfg.BaseURL), "/")
	if base == "" {
		base = DefaultClerkAPIURL
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("CLERK_API_URL must be an absolute http(s) URL")
	}
	client := cfg.Client
	if client == nil {
		client = &http.Client{}
	}
	ttl := cfg.TokenTTL
	if ttl <= 0 {
		ttl = DevTokenTTL
	}
	return &ClerkMinter{secret: strings.TrimSpace(cfg.SecretKey), base: base, client: client, ttl: ttl}, nil
}

// Mint implements TokenMinter. A role cannot be granted this way: in Clerk it
// comes from the user's metadata (or ADMIN_CLERK_IDS here), so asking for
// admin is refused instead of silently ignored.
func (m *ClerkMinter) Mint(ctx context.Context, clerkID, role string) (TokenReply, error) {
	clerkID = strings.TrimSpace(clerkID)
	if clerkID == "" {
		return TokenReply{}, badMint("clerk_id", "required")
	}
	switch role {
	case "", contracts.RoleUser:
	case contracts.RoleAdmin:
		return TokenReply{}, badMint("role", "with Clerk the admin role comes from the user's metadata or ADMIN_CLERK_IDS, not from create-token")
	default:
		return TokenReply{}, badMint("role", "must be user or admin")
	}
	ctx, cancel := context.WithTimeout(ctx, clerkTimeout)
	defer cancel()

	var session struct {
		ID string `json:"id"`
	}
	if err := m.call(ctx, "/v1/sessions", map[string]any{"user_id": clerkID}, &session); err != nil {
		return TokenReply{}, fmt.Errorf("create clerk session: %w", err)
	}
	if session.ID == "" {
		return TokenReply{}, fmt.Errorf("create clerk session: %w: reply has no session id", ErrClerkUnavailable)
	}

	var token struct {
		JWT string `json:"jwt"`
	}
	path := "/v1/sessions/" + url.PathEscape(session.ID) + "/tokens"
	if err := m.call(ctx, path, map[string]any{"expires_in_seconds": int64(m.ttl / time.Second)}, &token); err != nil {
		return TokenReply{}, fmt.Errorf("create clerk session token: %w", err)
	}
	if token.JWT == "" {
		return TokenReply{}, fmt.Errorf("create clerk session token: %w: reply has no jwt", ErrClerkUnavailable)
	}
	return TokenReply{Token: token.JWT, SessionID: session.ID, ExpiresInSeconds: expiresIn(token.JWT, time.Now(), m.ttl)}, nil
}

// ClerkAPIError is a non-2xx answer from Clerk's Backend API. It unwraps to
// ErrClerkRejected (4xx) or ErrClerkUnavailable (429, 5xx). Its text is
// Clerk's own error code and message, which never echo the secret key.
type ClerkAPIError struct {
	Status  int
	Code    string
	Message string
}

func (e *ClerkAPIError) Error() string {
	msg := fmt.Sprintf("clerk backend api: status %d", e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

func (e *ClerkAPIError) Unwrap() error {
	if e.Status == http.StatusTooManyRequests || e.Status >= 500 {
		return ErrClerkUnavailable
	}
	return ErrClerkRejected
}

// call POSTs a JSON body and decodes a JSON reply.
func (m *ClerkMinter) call(ctx context.Context, path string, body, out any) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.base+path, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+m.secret)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := m.client.Do(req)
	if err != nil {
		// *url.Error names method and URL only; the secret is in a header.
		return fmt.Errorf("%w: %w", ErrClerkUnavailable, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, clerkMaxBodyBytes))
	if err != nil {
		return fmt.Errorf("%w: read reply: %w", ErrClerkUnavailable, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return m.apiError(resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%w: decode reply: %w", ErrClerkUnavailable, err)
	}
	return nil
}

// apiError reads Clerk's {"errors":[{"code","message","long_message"}]}
// shape. The text is trimmed and scrubbed of the secret as a last guard.
func (m *ClerkMinter) apiError(status int, body []byte) *ClerkAPIError {
	e := &ClerkAPIError{Status: status}
	var reply struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &reply) == nil && len(reply.Errors) > 0 {
		e.Code = m.scrub(reply.Errors[0].Code)
		e.Message = m.scrub(reply.Errors[0].Message)
	}
	return e
}

func (m *ClerkMinter) scrub(s string) string {
	s = strings.ReplaceAll(s, m.secret, "[redacted]")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// expiresIn reads exp from the token Clerk returned (without verifying it:
// the number is only reported to the caller) and falls back to the lifetime
// we asked for.
func expiresIn(token string, now time.Time, fallback time.Duration) int64 {
	parts := strings.Split(token, ".")
	if len(parts) == 3 {
		if payload, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
			var c struct {
				Exp int64 `json:"exp"`
			}
			if json.Unmarshal(payload, &c) == nil && c.Exp > 0 {
				if left := c.Exp - now.Unix(); left > 0 {
					return left
				}
				return 0
			}
		}
	}
	return int64(fallback / time.Second)
}
