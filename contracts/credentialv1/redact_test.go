package credentialv1_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	cv1 "github.com/nonefinity/backend/contracts/credentialv1"
)

const secret = "sk-live-TOPSECRET-4242"

// Every type that carries a key must keep it out of fmt and slog output in
// every form a careless caller might use, and keep it in its JSON.
func TestSecretsNeverPrinted(t *testing.T) {
	values := map[string][2]any{
		"CreateRequest": valueAndPointer(cv1.CreateRequest{Name: "n", ProviderName: "openai", APIKey: secret,
			AdditionalHeaders: map[string]string{"X-Org-Token": secret}}),
		"UpdateRequest": valueAndPointer(cv1.UpdateRequest{ID: "65f2a1b3c4d5e6f708192a3c", APIKey: ptr(secret),
			AdditionalHeaders: &map[string]string{"X-Org-Token": secret}}),
		"TestRequest":      valueAndPointer(cv1.TestRequest{ProviderName: "openai", APIKey: secret}),
		"ResolveReply":     valueAndPointer(cv1.ResolveReply{ProviderName: "openai", APIKey: secret, Headers: map[string]string{"X-Org-Token": secret}}),
		"GenerateKeyReply": valueAndPointer(cv1.GenerateKeyReply{SecureKey: secret, Length: 32}),
	}
	for name, vp := range values {
		t.Run(name, func(t *testing.T) {
			v, p := vp[0], vp[1]
			outputs := map[string]string{
				"%v":  fmt.Sprintf("%v", v),
				"%+v": fmt.Sprintf("%+v", v),
				"%#v": fmt.Sprintf("%#v", v),
				"%s":  fmt.Sprintf("%s", v),
				"ptr": fmt.Sprintf("%+v", p),
				"err": fmt.Errorf("wrapping %v", v).Error(),
			}
			var text, js bytes.Buffer
			slog.New(slog.NewTextHandler(&text, nil)).Info("req", "v", v)
			slog.New(slog.NewJSONHandler(&js, nil)).Info("req", "v", v)
			outputs["slog text"] = text.String()
			outputs["slog json"] = js.String()
			for form, out := range outputs {
				if strings.Contains(out, secret) {
					t.Errorf("%s output leaks the secret: %s", form, out)
				}
				if form != "err" && !strings.Contains(out, cv1.Redacted) {
					t.Errorf("%s output shows no redaction mark: %s", form, out)
				}
			}
			wire, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(wire), secret) {
				t.Errorf("the wire form must carry the secret: %s", wire)
			}
		})
	}
}

func valueAndPointer[T any](v T) [2]any { return [2]any{v, &v} }

// Redacting a copy must not touch the caller's value (maps and pointers are
// shared with it).
func TestRedactionLeavesValueIntact(t *testing.T) {
	headers := map[string]string{"X-Org-Token": secret}
	key := secret
	req := cv1.UpdateRequest{APIKey: &key, AdditionalHeaders: &headers}
	_ = fmt.Sprint(req)
	slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)).Info("x", "req", req)
	if *req.APIKey != secret || (*req.AdditionalHeaders)["X-Org-Token"] != secret {
		t.Fatalf("printing changed the request: %q %v", *req.APIKey, *req.AdditionalHeaders)
	}
}
