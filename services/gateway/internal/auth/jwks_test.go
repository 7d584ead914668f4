package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"testing"
)

func TestParseJWKSKeepsOnlyUsableSigningKeys(t *testing.T) {
	rsaKey := newRSAKey(t, "rsa")
	ecKey := newECKey(t, "ec")
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	with := func(k testKey, edit func(map[string]any)) map[string]any {
		m := k.jwkJSON()
		edit(m)
		return m
	}
	offCurve := with(ecKey, func(m map[string]any) {
		m["kid"] = "off-curve"
		y, _ := base64.RawURLEncoding.DecodeString(m["y"].(string))
		y[31] ^= 1
		m["y"] = b64(y)
	})
	doc := map[string]any{"keys": []any{
		rsaKey.jwkJSON(),
		ecKey.jwkJSON(),
		with(rsaKey, func(m map[string]any) {}), // the same kid again
		map[string]any{"kty": "RSA", "kid": "weak", "n": b64(weak.N.Bytes()), "e": b64(big.NewInt(int64(weak.E)).Bytes())},
		with(rsaKey, func(m map[string]any) { m["kid"], m["use"] = "enc", "enc" }),
		with(rsaKey, func(m map[string]any) { m["kid"], m["alg"] = "rs512", "RS512" }),
		with(rsaKey, func(m map[string]any) { m["kid"], m["key_ops"] = "ops", []string{"encrypt"} }),
		with(rsaKey, func(m map[string]any) { m["kid"] = "" }),
		with(rsaKey, func(m map[string]any) { m["kid"], m["e"] = "even-e", b64([]byte{1, 0, 0}) }),
		with(ecKey, func(m map[string]any) { m["kid"], m["alg"] = "es384", "ES384" }),
		with(ecKey, func(m map[string]any) { m["kid"], m["crv"] = "p384", "P-384" }),
		offCurve,
		map[string]any{"kty": "oct", "kid": "hmac", "k": b64([]byte("secret"))},
		map[string]any{"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": b64(make([]byte, 32))},
		"not an object",
	}}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	keys, skipped, err := parseJWKS(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys["rsa"].Algorithm != AlgRS256 || keys["ec"].Algorithm != AlgES256 {
		t.Errorf("keys = %v", keys)
	}
	if skipped != 13 {
		t.Errorf("skipped = %d, want 13", skipped)
	}
	if !keys["rsa"].Public.(*rsa.PublicKey).Equal(rsaKey.private.Public()) {
		t.Error("RSA key decoded wrongly")
	}

	if _, _, err := parseJWKS([]byte(`{"keys":[]}`)); err == nil {
		t.Error("empty set accepted")
	}
	if _, _, err := parseJWKS([]byte(`[]`)); err == nil {
		t.Error("non-object accepted")
	}
}

func TestStaticKeysUnknownKid(t *testing.T) {
	keys, err := NewStaticKeys(jwksOf(newECKey(t, "a")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Key(context.Background(), "b"); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("err = %v, want ErrInvalidToken", err)
	}
	if k, err := keys.Key(context.Background(), "a"); err != nil || k.ID != "a" {
		t.Errorf("key a: %v, %v", k, err)
	}
}

func TestRSAThumbprintMatchesRFC7638Example(t *testing.T) {
	// The key and thumbprint from RFC 7638, section 3.1.
	n, err := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	if err != nil {
		t.Fatal(err)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
	if got, want := rsaThumbprint(pub), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Errorf("thumbprint = %s, want %s", got, want)
	}
}
