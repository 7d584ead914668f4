package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/config"
)

const testSecret = "sk_test_s3cr3tValueThatMustNeverLeak"

// fakeClerk speaks the two Backend API endpoints create-token uses, plus the
// instance's JWKS, the way Clerk does: Bearer secret key, JSON bodies,
// {"errors":[…]} on failure. Tokens it issues are real RS256 JWTs.
type fakeClerk struct {
	*httptest.Server
	key testKey

	mu       sync.Mutex
	users    map[string]bool
	sessions map[string]string // session id -> user id
	calls    []string          // "METHOD path" in order
	authz    []string          // Authorization header of each API call
	failWith int               // when set, every API call answers this status
}

func newFakeClerk(t *testing.T, users ...string) *fakeClerk {
	t.Helper()
	f := &fakeClerk{key: newRSAKey(t, "ins_kid_1"), users: map[string]bool{}, sessions: map[string]string{}}
	for _, u := range users {
		f.users[u] = true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(jwksOf(f.key))
	})
	mux.HandleFunc("POST /v1/sessions", f.createSession)
	mux.HandleFunc("POST /v1/sessions/{id}/tokens", f.createToken)
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeClerk) record(r *http.Request) (status int, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	f.authz = append(f.authz, r.Header.Get("Authorization"))
	if r.Header.Get("Authorization") != "Bearer "+testSecret {
		return http.StatusUnauthorized, false
	}
	if f.failWith != 0 {
		return f.failWith, false
	}
	return 0, true
}

func clerkError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{
		"code": code, "message": message, "long_message": message + " (long)"}}})
}

func (f *fakeClerk) createSession(w http.ResponseWriter, r *http.Request) {
	if status, ok := f.record(r); !ok {
		// A careless upstream might echo what it was sent; our error text
		// must not carry it on.
		clerkError(w, status, "authentication_invalid", "bad key "+r.Header.Get("Authorization"))
		return
	}
	var body struct {
		UserID string `json:"user_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Header.Get("Content-Type") != "application/json" {
		clerkError(w, http.StatusBadRequest, "form_param_missing", "user_id is missing")
		return
	}
	f.mu.Lock()
	known := f.users[body.UserID]
	id := "sess_" + strings.TrimPrefix(body.UserID, "user_")
	if known {
		f.sessions[id] = body.UserID
	}
	f.mu.Unlock()
	if !known {
		clerkError(w, http.StatusNotFound, "resource_not_found", "User not found")
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "session", "id": id, "user_id": body.UserID, "status": "active"})
}

func (f *fakeClerk) createToken(w http.ResponseWriter, r *http.Request) {
	if status, ok := f.record(r); !ok {
		clerkError(w, status, "authentication_invalid", "bad key")
		return
	}
	var body struct {
		ExpiresIn int64 `json:"expires_in_seconds"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	if body.ExpiresIn == 0 {
		body.ExpiresIn = 60 // Clerk's default session token lifetime
	}
	sid := r.PathValue("id")
	f.mu.Lock()
	user, ok := f.sessions[sid]
	f.mu.Unlock()
	if !ok {
		clerkError(w, http.StatusNotFound, "resource_not_found", "Session not found")
		return
	}
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": f.URL, "sub": user, "sid": sid,
		"iat": now.Unix(), "nbf": now.Unix() - 5, "exp": now.Unix() + body.ExpiresIn,
	})
	tok.Header["kid"] = f.key.kid
	jwtStr, err := tok.SignedString(f.key.private)
	if err != nil {
		clerkError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "token", "jwt": jwtStr})
}

func TestClerkMinterCreatesSessionThenToken(t *testing.T) {
	clerk := newFakeClerk(t, "user_1")
	m, err := NewClerkMinter(ClerkMinterConfig{SecretKey: testSecret, BaseURL: clerk.URL + "/", Client: clerk.Client()})
	if err != nil {
		t.Fatal(err)
	}
	reply, err := m.Mint(context.Background(), "user_1", "")
	if err != nil {
		t.Fatal(err)
	}
	if reply.SessionID != "sess_1" || reply.Token == "" {
		t.Errorf("reply = %+v", reply)
	}
	// The lifetime comes from the token's exp: we asked for 24 h.
	if reply.ExpiresInSeconds < 86400-60 || reply.ExpiresInSeconds > 86400 {
		t.Errorf("expires_in_seconds = %d", reply.ExpiresInSeconds)
	}
	want := []string{"POST /v1/sessions", "POST /v1/sessions/sess_1/tokens"}
	if strings.Join(clerk.calls, ",") != strings.Join(want, ",") {
		t.Errorf("calls = %v, want %v", clerk.calls, want)
	}
	for i, h := range clerk.authz {
		if h != "Bearer "+testSecret {
			t.Errorf("call %d Authorization = %q", i, h)
		}
	}
}

func TestClerkMinterErrorsNeverContainTheSecret(t *testing.T) {
	clerk := newFakeClerk(t, "user_1")
	ctx := context.Background()
	minter := func(secret string) *ClerkMinter {
		m, err := NewClerkMinter(ClerkMinterConfig{SecretKey: secret, BaseURL: clerk.URL, Client: clerk.Client()})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	check := func(name string, err, want error, status int) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: err = %v, want %v", name, err, want)
			return
		}
		if strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%s: error leaks the secret: %q", name, err)
		}
		var apiErr *ClerkAPIError
		if status != 0 && (!errors.As(err, &apiErr) || apiErr.Status != status) {
			t.Errorf("%s: err = %v, want a ClerkAPIError with status %d", name, err, status)
		}
	}

	_, err := minter(testSecret).Mint(ctx, "user_unknown", "")
	check("unknown user", err, ErrClerkRejected, http.StatusNotFound)
	if !strings.Contains(err.Error(), "resource_not_found") {
		t.Errorf("unknown user: err = %q should carry Clerk's error code", err)
	}

	// Clerk echoes the (wrong) key it was sent in its message; it is scrubbed.
	wrong := testSecret + "_rotated"
	_, err = minter(wrong).Mint(ctx, "user_1", "")
	check("wrong secret", err, ErrClerkRejected, http.StatusUnauthorized)
	if strings.Contains(err.Error(), wrong) {
		t.Errorf("wrong secret echoed: %q", err)
	}

	clerk.mu.Lock()
	clerk.failWith = http.StatusBadGateway
	clerk.mu.Unlock()
	_, err = minter(testSecret).Mint(ctx, "user_1", "")
	check("clerk 502", err, ErrClerkUnavailable, http.StatusBadGateway)

	clerk.mu.Lock()
	clerk.failWith = http.StatusTooManyRequests
	clerk.mu.Unlock()
	_, err = minter(testSecret).Mint(ctx, "user_1", "")
	check("clerk 429", err, ErrClerkUnavailable, http.StatusTooManyRequests)

	clerk.Close()
	_, err = minter(testSecret).Mint(ctx, "user_1", "")
	check("clerk unreachable", err, ErrClerkUnavailable, 0)

	_, err = minter(testSecret).Mint(ctx, "user_1", contracts.RoleAdmin)
	check("admin role", err, ErrInvalidMintRequest, 0)
	_, err = minter(testSecret).Mint(ctx, "", "")
	check("no clerk id", err, ErrInvalidMintRequest, 0)

	if _, err := NewClerkMinter(ClerkMinterConfig{}); err == nil {
		t.Error("minter without a secret accepted")
	}
	if _, err := NewClerkMinter(ClerkMinterConfig{SecretKey: testSecret, BaseURL: "api.clerk.com"}); err == nil {
		t.Error("relative base URL accepted")
	}
}

// In dev with CLERK_ISSUER, CLERK_SECRET_KEY and the CLERK_DEV_CREATE_TOKEN
// opt-in, create-token asks Clerk and the token it returns passes the
// production verifier.
func TestNewDevWithClerkMintsThroughBackendAPI(t *testing.T) {
	clerk := newFakeClerk(t, "user_1")
	cfg := devBase(t.TempDir())
	gw := DefaultConfig()
	gw.Issuer = clerk.URL
	gw.SecretKey = testSecret
	gw.ClerkAPIURL = clerk.URL

	// Without the opt-in the gateway does not start.
	if _, err := New(context.Background(), cfg, gw, nil, clerk.Client()); err == nil ||
		!strings.Contains(err.Error(), "CLERK_DEV_CREATE_TOKEN") {
		t.Fatalf("dev with a Clerk secret and no opt-in: err = %v", err)
	}
	gw.ClerkDevCreateToken = true
	a, err := New(context.Background(), cfg, gw, nil, clerk.Client())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Dev || a.JWKSHandler != nil {
		t.Errorf("Clerk mode must not serve a dev JWKS: %+v", a)
	}
	if _, ok := a.Minter.(*ClerkMinter); !ok {
		t.Fatalf("minter = %T, want *ClerkMinter", a.Minter)
	}
	reply, err := a.Minter.Mint(context.Background(), "user_1", contracts.RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := a.Verifier.Verify(context.Background(), reply.Token)
	if err != nil {
		t.Fatalf("Clerk token: %v", err)
	}
	if claims.Subject != "user_1" || claims.SessionID != reply.SessionID {
		t.Errorf("claims = %+v, reply = %+v", claims, reply)
	}

	// Without the secret (and the opt-in) there is nothing to mint with:
	// the route is absent.
	gw.SecretKey = ""
	gw.ClerkDevCreateToken = false
	b, err := New(context.Background(), cfg, gw, nil, clerk.Client())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Minter != nil {
		t.Errorf("minter = %T, want nil", b.Minter)
	}
}

func TestConfigLoadsFromEnvironment(t *testing.T) {
	type gatewayConfig struct {
		config.Base
		Config
	}
	cfg, err := config.LoadFrom[gatewayConfig](map[string]string{
		"CLERK_JWT_LEEWAY": "45s",
		"CLERK_API_URL":    "http://127.0.0.1:9",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.JWTLeeway != 45*time.Second || cfg.ClerkAPIURL != "http://127.0.0.1:9" {
		t.Errorf("loaded %+v", cfg.Config)
	}
	if err := cfg.Config.Check(); err != nil {
		t.Error(err)
	}
	// Embedding Config must leave config.Base's validation in force.
	if _, err := config.LoadFrom[gatewayConfig](map[string]string{"APP_ENV": "staging"}); err == nil ||
		!strings.Contains(err.Error(), "APP_ENV") {
		t.Errorf("Base.Validate not applied through the embedding: err = %v", err)
	}
}

func TestMintErrorMapsToRPCErrors(t *testing.T) {
	plain := errors.New("disk full")
	for _, tc := range []struct {
		name   string
		in     error
		status int
		field  string
	}{
		{"bad role", badMint("role", "must be user or admin"), http.StatusUnprocessableEntity, "role"},
		{"wrapped bad id", fmt.Errorf("mint: %w", badMint("clerk_id", "required")), http.StatusUnprocessableEntity, "clerk_id"},
		{"unknown clerk user", fmt.Errorf("create clerk session: %w", &ClerkAPIError{Status: 404, Code: "resource_not_found"}), http.StatusNotFound, ""},
		{"secret rejected", &ClerkAPIError{Status: 401}, http.StatusServiceUnavailable, ""},
		{"clerk down", fmt.Errorf("%w: dial", ErrClerkUnavailable), http.StatusServiceUnavailable, ""},
	} {
		e, ok := rpcerr.As(MintError(tc.in))
		if !ok {
			t.Errorf("%s: not an rpcerr: %v", tc.name, MintError(tc.in))
			continue
		}
		if e.HTTPStatus() != tc.status || e.Field != tc.field {
			t.Errorf("%s: status %d field %q, want %d %q", tc.name, e.HTTPStatus(), e.Field, tc.status, tc.field)
		}
	}
	if MintError(nil) != nil || MintError(plain) != plain {
		t.Error("nil and unrelated errors must pass through")
	}
}
