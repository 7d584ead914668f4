package auth

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/pkg/config"
)

func devBase(dataDir string) config.Base {
	var cfg config.Base
	cfg.App.Env = "dev"
	cfg.DataDir = dataDir
	return cfg
}

func TestDevAuthPersistsKeyAndVerifiesMintedTokens(t *testing.T) {
	dataDir := t.TempDir()
	ctx := context.Background()

	first, err := New(ctx, devBase(dataDir), DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if !first.Dev || first.Minter == nil || first.JWKSHandler == nil {
		t.Fatalf("dev auth incomplete: %+v", first)
	}
	keyPath := filepath.Join(dataDir, "gateway", "dev-jwt-key.pem")
	info, err := os.Stat(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode = %v, want 0600", perm)
	}

	reply, err := first.Minter.Mint(ctx, "user_1", "")
	if err != nil {
		t.Fatal(err)
	}
	if reply.ExpiresInSeconds != 24*60*60 || !strings.HasPrefix(reply.SessionID, "sess_") {
		t.Errorf("reply = %+v", reply)
	}

	// A restart on the same DATA_DIR: same key, so the token still verifies.
	second, err := New(ctx, devBase(dataDir), DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if a, b := jwksBody(t, first.JWKSHandler), jwksBody(t, second.JWKSHandler); a != b {
		t.Errorf("JWKS changed across restarts:\n%s\n%s", a, b)
	}
	claims, err := second.Verifier.Verify(ctx, reply.Token)
	if err != nil {
		t.Fatalf("minted token after restart: %v", err)
	}
	if claims.Subject != "user_1" || claims.Issuer != DevIssuer || claims.SessionID != reply.SessionID ||
		claims.Role != contracts.RoleUser || claims.AuthorizedParty != "" {
		t.Errorf("claims = %+v", claims)
	}
	if got := claims.ExpiresAt.Sub(claims.IssuedAt); got != DevTokenTTL {
		t.Errorf("lifetime = %v, want %v", got, DevTokenTTL)
	}
	parsed, _, err := jwt.NewParser().ParseUnverified(reply.Token, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Header["alg"] != "RS256" || parsed.Header["kid"] == "" {
		t.Errorf("header = %v", parsed.Header)
	}

	admin, err := second.Minter.Mint(ctx, "user_2", contracts.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	claims, err = first.Verifier.Verify(ctx, admin.Token)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Role != contracts.RoleAdmin {
		t.Errorf("role = %q, want admin", claims.Role)
	}
	if md, _ := claims.Raw["metadata"].(map[string]any); md["role"] != "admin" {
		t.Errorf("metadata claim = %v", claims.Raw["metadata"])
	}

	for _, bad := range []struct{ id, role string }{{"", ""}, {"  ", ""}, {"user_1", "root"}} {
		if _, err := first.Minter.Mint(ctx, bad.id, bad.role); !errors.Is(err, ErrInvalidMintRequest) {
			t.Errorf("Mint(%q, %q): err = %v, want ErrInvalidMintRequest", bad.id, bad.role, err)
		}
	}
}

func TestDevTokensUseTheConfiguredRoleClaimAndAdminIDs(t *testing.T) {
	gw := DefaultConfig()
	gw.RoleClaim = "public_metadata.role"
	gw.AdminIDs = []string{"user_boss"}
	a, err := New(context.Background(), devBase(t.TempDir()), gw, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	for _, tc := range []struct{ id, role, want string }{
		{"user_1", contracts.RoleAdmin, contracts.RoleAdmin},
		{"user_1", contracts.RoleUser, contracts.RoleUser},
		{"user_boss", "", contracts.RoleAdmin},
	} {
		reply, err := a.Minter.Mint(ctx, tc.id, tc.role)
		if err != nil {
			t.Fatal(err)
		}
		c, err := a.Verifier.Verify(ctx, reply.Token)
		if err != nil {
			t.Fatal(err)
		}
		if c.Role != tc.want {
			t.Errorf("%s/%q: role = %q, want %q", tc.id, tc.role, c.Role, tc.want)
		}
	}
}

func TestDevKeysRejectAForeignToken(t *testing.T) {
	a, err := New(context.Background(), devBase(t.TempDir()), DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := New(context.Background(), devBase(t.TempDir()), DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	reply, err := other.Minter.Mint(context.Background(), "user_1", "")
	if err != nil {
		t.Fatal(err)
	}
	// Another gateway's dev key has another kid: the token is not ours.
	if _, err := a.Verifier.Verify(context.Background(), reply.Token); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("err = %v, want ErrInvalidToken", err)
	}
}

func TestDevKeyFileMustBeAnRSAKey(t *testing.T) {
	dataDir := t.TempDir()
	path := filepath.Join(dataDir, "gateway", "dev-jwt-key.pem")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDevKeys(dataDir, ""); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v, want one naming the file", err)
	}
}

func TestJWKSHandler(t *testing.T) {
	keys, err := LoadDevKeys(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	body := jwksBody(t, keys.JWKSHandler())
	static, err := NewStaticKeys([]byte(body))
	if err != nil {
		t.Fatalf("served JWKS does not parse: %v", err)
	}
	if _, err := static.Key(context.Background(), keys.KeyID()); err != nil {
		t.Errorf("served JWKS lacks kid %s: %v", keys.KeyID(), err)
	}
	if strings.Contains(body, `"d"`) || strings.Contains(body, `"p"`) {
		t.Errorf("JWKS leaks private members: %s", body)
	}
	rec := httptest.NewRecorder()
	keys.JWKSHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/.well-known/jwks.json", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d", rec.Code)
	}
}

func jwksBody(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("jwks: status %d, type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	b, err := io.ReadAll(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNewWithClerkInProd(t *testing.T) {
	key := newRSAKey(t, "kid-a")
	srv := newJWKSServer(t, key)
	var cfg config.Base
	cfg.App.Env = "prod"
	gw := DefaultConfig()
	gw.Issuer = srv.URL // the JWKS URL defaults to {issuer}/.well-known/jwks.json
	gw.SecretKey = "sk_test_prod_never_mints"
	gw.RoleClaim = DefaultRoleClaim

	a, err := New(context.Background(), cfg, gw, nil, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Dev || a.Minter != nil || a.JWKSHandler != nil {
		t.Errorf("prod must have neither minter nor dev JWKS: %+v", a)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("jwks fetched %d times at start, want 1", n)
	}
	claims := goodClaims(time.Now())
	claims["iss"] = srv.URL
	if _, err := a.Verifier.Verify(context.Background(), key.sign(t, claims)); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestNewConfigErrors(t *testing.T) {
	var prod config.Base
	prod.App.Env = "prod"
	if _, err := New(context.Background(), prod, DefaultConfig(), nil, nil); err == nil || !strings.Contains(err.Error(), "CLERK_ISSUER") {
		t.Errorf("prod without issuer: err = %v", err)
	}
	dev := devBase(t.TempDir())
	badJWKS := DefaultConfig()
	badJWKS.Issuer = "https://clerk.example.test"
	badJWKS.JWKSURL = "not a url"
	if _, err := New(context.Background(), dev, badJWKS, nil, nil); err == nil || !strings.Contains(err.Error(), "CLERK_JWKS_URL") {
		t.Errorf("bad jwks url: err = %v", err)
	}
	gw := DefaultConfig()
	gw.JWTLeeway = time.Hour
	if _, err := New(context.Background(), devBase(t.TempDir()), gw, nil, nil); err == nil ||
		!strings.Contains(err.Error(), "CLERK_JWT_LEEWAY") {
		t.Errorf("huge leeway: err = %v", err)
	}
}

// A gateway that starts while Clerk is unreachable comes up and answers 503
// until the keys can be fetched.
func TestNewStartsWhileJWKSIsDown(t *testing.T) {
	srv := newJWKSServer(t, newRSAKey(t, "kid-a"))
	srv.Close()
	var cfg config.Base
	cfg.App.Env = "prod"
	gw := DefaultConfig()
	gw.Issuer = testIssuer
	gw.JWKSURL = srv.jwksURL()
	a, err := New(context.Background(), cfg, gw, nil, nil)
	if err != nil {
		t.Fatalf("New must not fail when the JWKS is down: %v", err)
	}
	defer a.Close()
	token := newRSAKey(t, "kid-a").sign(t, goodClaims(time.Now()))
	if _, err := a.Verifier.Verify(context.Background(), token); !errors.Is(err, ErrKeysUnavailable) {
		t.Errorf("err = %v, want ErrKeysUnavailable", err)
	}
}

// Dev auth never runs next to a real Clerk secret: create-token answers
// without a token, and APP_ENV defaults to dev. The errors name variables,
// never values.
func TestCheckDevAuth(t *testing.T) {
	const testKey, liveKey = "sk_test_0123456789abcdef", "sk_live_0123456789abcdef"
	type env = map[string]string
	for _, tc := range []struct {
		name string
		env  env
		want string // "" accepts; otherwise a part of the error
	}{
		{"plain dev", env{}, ""},
		{"dev with Clerk, no secret", env{"CLERK_ISSUER": "https://x.clerk.accounts.dev"}, ""},
		{"prod with Clerk and a secret", env{"APP_ENV": "prod", "CLERK_ISSUER": "https://x.clerk.accounts.dev", "CLERK_SECRET_KEY": liveKey}, ""},
		{"APP_ENV unset with a secret", env{"CLERK_ISSUER": "https://x.clerk.accounts.dev", "CLERK_SECRET_KEY": testKey},
			"CLERK_SECRET_KEY: set while APP_ENV=dev would let anyone mint Clerk sessions"},
		{"dev auth with a secret", env{"APP_ENV": "dev", "CLERK_SECRET_KEY": testKey}, "CLERK_SECRET_KEY: must not be set with dev auth"},
		{"opt-in", env{"CLERK_ISSUER": "https://x.clerk.accounts.dev", "CLERK_SECRET_KEY": testKey, "CLERK_DEV_CREATE_TOKEN": "true"}, ""},
		{"opt-in on localhost", env{"CLERK_ISSUER": "https://x.clerk.accounts.dev", "CLERK_SECRET_KEY": testKey, "CLERK_DEV_CREATE_TOKEN": "true",
			"APP_HOST": "localhost"}, ""},
		{"opt-in with a live key", env{"CLERK_ISSUER": "https://x.clerk.accounts.dev", "CLERK_SECRET_KEY": liveKey, "CLERK_DEV_CREATE_TOKEN": "true"},
			"CLERK_DEV_CREATE_TOKEN: refused with a production instance's CLERK_SECRET_KEY"},
		{"opt-in on every interface", env{"CLERK_ISSUER": "https://x.clerk.accounts.dev", "CLERK_SECRET_KEY": testKey, "CLERK_DEV_CREATE_TOKEN": "true",
			"APP_HOST": "0.0.0.0"}, "CLERK_DEV_CREATE_TOKEN: needs a loopback APP_HOST"},
		{"opt-in without a secret", env{"CLERK_ISSUER": "https://x.clerk.accounts.dev", "CLERK_DEV_CREATE_TOKEN": "true"},
			"CLERK_DEV_CREATE_TOKEN: needs CLERK_ISSUER and CLERK_SECRET_KEY"},
		{"opt-in in prod", env{"APP_ENV": "prod", "CLERK_ISSUER": "https://x.clerk.accounts.dev", "CLERK_DEV_CREATE_TOKEN": "true"},
			"CLERK_DEV_CREATE_TOKEN: only applies with APP_ENV=dev"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			type gatewayConfig struct {
				config.Base
				Config
			}
			cfg, err := config.LoadFrom[gatewayConfig](tc.env)
			if err != nil {
				t.Fatal(err)
			}
			err = CheckDevAuth(cfg.Base, cfg.Config)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want %q", err, tc.want)
			case err != nil && (strings.Contains(err.Error(), testKey) || strings.Contains(err.Error(), liveKey) || strings.Contains(err.Error(), "\n")):
				t.Fatalf("the error shows a secret or spans lines: %v", err)
			}
		})
	}
}
