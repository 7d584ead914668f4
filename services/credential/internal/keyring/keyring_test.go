package keyring

import (
	"crypto/aes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/nonefinity/backend/services/credential/internal/keyring/legacytest"
)

const testIterations = 1000

func newKeyring(t testing.TB, secret string, previous ...string) *Keyring {
	t.Helper()
	kr, err := New(Options{Secret: secret, PreviousSecrets: previous, Salt: "test-salt", Iterations: testIterations})
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

var bindA = Binding{CredentialID: "65f2a1b3c4d5e6f708192a3c", OwnerID: "65f2a1b3c4d5e6f708190001"}

func TestRoundTrip(t *testing.T) {
	kr := newKeyring(t, "secret-one")
	for _, plain := range []string{"sk-test-0123456789", "", "ключ with ünïcode", strings.Repeat("x", 4096)} {
		sealed, err := kr.Encrypt(plain, bindA)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(sealed, "v2:"+kr.KeyID()+":") {
			t.Fatalf("stored value %q is not v2 under key %s", sealed[:20], kr.KeyID())
		}
		if plain != "" && strings.Contains(sealed, plain) {
			t.Fatal("ciphertext contains the plaintext")
		}
		got, err := kr.Decrypt(sealed, bindA)
		if err != nil || got != plain {
			t.Fatalf("Decrypt = %q, %v; want the plaintext back", got, err)
		}
		if !kr.IsCurrent(sealed) || KeyIDOf(sealed) != kr.KeyID() {
			t.Fatalf("IsCurrent/KeyIDOf disagree for a fresh value")
		}
	}
	if err := kr.SelfTest(); err != nil {
		t.Fatal(err)
	}
}

// A ciphertext copied onto another record, or onto a record of another
// owner, must not decrypt.
func TestAADSwapFails(t *testing.T) {
	kr := newKeyring(t, "secret-one")
	sealed, err := kr.Encrypt("sk-live-secret", bindA)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]Binding{
		"other record":           {CredentialID: "65f2a1b3c4d5e6f708192a3d", OwnerID: bindA.OwnerID},
		"other owner":            {CredentialID: bindA.CredentialID, OwnerID: "65f2a1b3c4d5e6f708190002"},
		"ids swapped":            {CredentialID: bindA.OwnerID, OwnerID: bindA.CredentialID},
		"ids shifted across NUL": {CredentialID: bindA.CredentialID + bindA.OwnerID[:1], OwnerID: bindA.OwnerID[1:]},
	} {
		if got, err := kr.Decrypt(sealed, b); !errors.Is(err, ErrUndecryptable) {
			t.Errorf("%s: Decrypt = %q, %v; want ErrUndecryptable", name, got, err)
		}
	}
}

func TestTamperedV2Fails(t *testing.T) {
	kr := newKeyring(t, "secret-one")
	sealed, _ := kr.Encrypt("sk-live-secret", bindA)
	raw, _ := base64.RawURLEncoding.DecodeString(sealed[strings.LastIndexByte(sealed, ':')+1:])
	for i := range raw {
		mut := append([]byte(nil), raw...)
		mut[i] ^= 0x01
		v := sealed[:strings.LastIndexByte(sealed, ':')+1] + base64.RawURLEncoding.EncodeToString(mut)
		if _, err := kr.Decrypt(v, bindA); !errors.Is(err, ErrUndecryptable) {
			t.Fatalf("flipping byte %d still decrypts", i)
		}
	}
	for _, v := range []string{"v2:", "v2:" + kr.KeyID(), "v2:" + kr.KeyID() + ":!!", "v2:" + kr.KeyID() + ":AAAA", "v2:000000000000:" + sealed[strings.LastIndexByte(sealed, ':')+1:], "garbage", ""} {
		if _, err := kr.Decrypt(v, bindA); !errors.Is(err, ErrUndecryptable) {
			t.Errorf("Decrypt(%q) = %v, want ErrUndecryptable", v, err)
		}
	}
}

func TestNoncesAreUnique(t *testing.T) {
	kr := newKeyring(t, "secret-one")
	seen := map[string]bool{}
	for range 2000 {
		sealed, err := kr.Encrypt("same plaintext", bindA)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.RawURLEncoding.DecodeString(sealed[strings.LastIndexByte(sealed, ':')+1:])
		nonce := string(raw[:12])
		if seen[nonce] {
			t.Fatal("a nonce repeated")
		}
		seen[nonce] = true
	}
}

func TestPreviousKeysDecrypt(t *testing.T) {
	old := newKeyring(t, "old-secret")
	sealed, _ := old.Encrypt("sk-from-before", bindA)

	rotated := newKeyring(t, "new-secret", "old-secret")
	if rotated.KeyID() == old.KeyID() {
		t.Fatal("different secrets gave the same key id")
	}
	got, err := rotated.Decrypt(sealed, bindA)
	if err != nil || got != "sk-from-before" {
		t.Fatalf("Decrypt with previous key = %q, %v", got, err)
	}
	if rotated.IsCurrent(sealed) || KeyIDOf(sealed) != old.KeyID() {
		t.Fatal("a value under the previous key counts as current")
	}
	fresh, _ := rotated.Encrypt(got, bindA)
	if !rotated.IsCurrent(fresh) {
		t.Fatal("re-encrypted value is not current")
	}
	if _, err := newKeyring(t, "new-secret").Decrypt(sealed, bindA); !errors.Is(err, ErrUndecryptable) {
		t.Fatalf("without the previous secret: %v, want ErrUndecryptable", err)
	}
	// The key id is a function of the secret: stable across restarts.
	if again := newKeyring(t, "old-secret"); again.KeyID() != old.KeyID() {
		t.Fatal("key id changed between two derivations of the same secret")
	}
}

func TestFingerprint(t *testing.T) {
	kr := newKeyring(t, "secret-one")
	a, b := kr.Fingerprint("sk-one"), kr.Fingerprint("sk-one")
	if a != b || len(a) != 64 {
		t.Fatalf("fingerprint not deterministic: %s %s", a, b)
	}
	if a == kr.Fingerprint("sk-two") {
		t.Fatal("different keys share a fingerprint")
	}
	if a == newKeyring(t, "secret-two").Fingerprint("sk-one") {
		t.Fatal("the fingerprint does not depend on the secret")
	}
	plainHash := sha256.Sum256([]byte("sk-one"))
	if a == base64.StdEncoding.EncodeToString(plainHash[:]) {
		t.Fatal("fingerprint is an unkeyed hash")
	}
}

func TestNewRejectsMissingMaterial(t *testing.T) {
	for name, o := range map[string]Options{
		"no secret":     {Salt: "s", Iterations: 1},
		"no salt":       {Secret: "s", Iterations: 1},
		"no iterations": {Secret: "s", Salt: "s"},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

// The known-answer vector of the Fernet spec (generate.json).
func TestFernetSpecVector(t *testing.T) {
	key, _ := base64.URLEncoding.DecodeString("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=")
	token, _ := base64.URLEncoding.DecodeString("gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==")
	block, _ := aes.NewCipher(key[16:])
	plain, err := fernetOpen(token, key[:16], block)
	if err != nil || string(plain) != "hello" {
		t.Fatalf("spec vector = %q, %v; want hello", plain, err)
	}
}

func pythonLegacyValue(t testing.TB, secret, salt string, iterations int, plaintext string) string {
	return legacytest.PythonValue(t, secret, salt, iterations, plaintext)
}

func TestLegacyFernetDecrypts(t *testing.T) {
	stored := pythonLegacyValue(t, "secret-one", "test-salt", testIterations, "sk-python-era-key")
	kr := newKeyring(t, "secret-one")
	// Legacy values carry no binding: any record's binding opens them.
	got, err := kr.Decrypt(stored, bindA)
	if err != nil || got != "sk-python-era-key" {
		t.Fatalf("legacy Decrypt = %q, %v", got, err)
	}
	if KeyIDOf(stored) != LegacyKeyID || kr.IsCurrent(stored) {
		t.Fatal("a legacy value counts as current")
	}
	// A bare token (not wrapped once more) is accepted too.
	inner, _ := base64.URLEncoding.DecodeString(stored)
	if got, err := kr.Decrypt(string(inner), bindA); err != nil || got != "sk-python-era-key" {
		t.Fatalf("bare token Decrypt = %q, %v", got, err)
	}
	// A legacy value under a previous secret is read with that secret.
	rotated := newKeyring(t, "secret-two", "secret-one")
	if got, err := rotated.Decrypt(stored, bindA); err != nil || got != "sk-python-era-key" {
		t.Fatalf("legacy Decrypt with previous secret = %q, %v", got, err)
	}
	if _, err := newKeyring(t, "secret-two").Decrypt(stored, bindA); !errors.Is(err, ErrUndecryptable) {
		t.Fatalf("legacy value opened with the wrong secret: %v", err)
	}
}

func TestLegacyTamperedFails(t *testing.T) {
	kr := newKeyring(t, "secret-one")
	stored := pythonLegacyValue(t, "secret-one", "test-salt", testIterations, "sk-python-era-key")
	tokenText, _ := base64.URLEncoding.DecodeString(stored)
	token, _ := base64.URLEncoding.DecodeString(string(tokenText))
	for name, pos := range map[string]int{"hmac": len(token) - 1, "ciphertext": len(token) - 40, "iv": 10, "timestamp": 3} {
		mut := append([]byte(nil), token...)
		mut[pos] ^= 0x80
		v := base64.URLEncoding.EncodeToString([]byte(base64.URLEncoding.EncodeToString(mut)))
		if _, err := kr.Decrypt(v, bindA); !errors.Is(err, ErrUndecryptable) {
			t.Errorf("tampered %s: %v, want ErrUndecryptable", name, err)
		}
	}
	short := base64.URLEncoding.EncodeToString([]byte(base64.URLEncoding.EncodeToString(token[:60])))
	if _, err := kr.Decrypt(short, bindA); !errors.Is(err, ErrUndecryptable) {
		t.Errorf("truncated token: %v", err)
	}
}

func BenchmarkEncrypt(b *testing.B) {
	kr := newKeyring(b, "bench-secret")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.Encrypt("sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH", bindA); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecrypt(b *testing.B) {
	kr := newKeyring(b, "bench-secret")
	sealed, _ := kr.Encrypt("sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH", bindA)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.Decrypt(sealed, bindA); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecryptLegacy(b *testing.B) {
	kr := newKeyring(b, "bench-secret")
	stored := pythonLegacyValue(b, "bench-secret", "test-salt", testIterations, "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.Decrypt(stored, bindA); err != nil {
			b.Fatal(err)
		}
	}
}
