package credential

import (
	"strings"
	"testing"

	"github.com/nonefinity/backend/pkg/fielderr"
)

func TestMask(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"", ""},
		{"a", "*"},
		{"abcdefgh", "********"},
		{"abcdefghi", "ab*****hi"},
		{"abcdefghijkl", "ab********kl"},
		{"abcdefghijklm", "abcd*****jklm"},
		{"sk-proj-0123456789abcdefwxyz", "sk-p********************wxyz"},
		{"ключ-ключ-ключ", "ключ******ключ"},
	} {
		if got := Mask(tc.key); got != tc.want {
			t.Errorf("Mask(%q) = %q, want %q", tc.key, got, tc.want)
		}
		if len([]rune(Mask(tc.key))) != len([]rune(tc.key)) {
			t.Errorf("Mask(%q) changes the length", tc.key)
		}
	}
	for _, tc := range []struct{ key, want string }{{"abcdefghijkl", ""}, {"abcdefghijklm", "jklm"}, {"short", ""}} {
		if got := last4(tc.key); got != tc.want {
			t.Errorf("last4(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
}

func TestNormalizeName(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"  work key  ", "work key", true},
		{"x", "x", true},
		{strings.Repeat("n", 100), strings.Repeat("n", 100), true},
		{strings.Repeat("é", 100), strings.Repeat("é", 100), true},
		{strings.Repeat("n", 101), "", false},
		{"", "", false},
		{"   \t ", "", false},
		{"bad\x00name", "", false},
	} {
		got, err := normalizeName(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("normalizeName(%q) = %q, %v", tc.in, got, err)
		}
		if err != nil {
			if v, ok := fielderr.As(err); !ok || v.Field != "name" {
				t.Errorf("normalizeName(%q) error %v is not a validation error on name", tc.in, err)
			}
		}
	}
}

func TestNormalizeKey(t *testing.T) {
	for _, tc := range []struct {
		in       string
		required bool
		want     string
		ok       bool
	}{
		{"  sk-abc \n", true, "sk-abc", true},
		{"", true, "", false},
		{"   ", true, "", false},
		{"", false, "", true},
		{strings.Repeat("k", MaxKeyBytes), true, strings.Repeat("k", MaxKeyBytes), true},
		{strings.Repeat("k", MaxKeyBytes+1), true, "", false},
		{"sk-abc\r\nX-Injected: 1", true, "", false},
	} {
		got, err := normalizeKey(tc.in, tc.required)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("normalizeKey(%.20q, %v) = %.20q, %v", tc.in, tc.required, got, err)
		}
		if err != nil {
			if v, ok := fielderr.As(err); !ok || v.Field != "api_key" {
				t.Errorf("error %v is not a validation error on api_key", err)
			}
			if strings.Contains(err.Error(), "sk-abc") {
				t.Errorf("error %q echoes the key", err)
			}
		}
	}
}

func TestNormalizeBaseURL(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{"  https://proxy.example.com/v1/ ", "https://proxy.example.com/v1", true},
		{"http://ollama.lan:11434", "http://ollama.lan:11434", true},
		{"ftp://x.example", "", false},
		{"/v1/models", "", false},
		{"proxy.example.com", "", false},
		{"https://", "", false},
		{"https://user:pw@proxy.example.com", "", false},
		{"https://proxy.example.com/v1?key=x", "", false},
		{"https://proxy.example.com/#x", "", false},
		// Empty query or fragment: the probe path would become it.
		{"https://proxy.example.com/v1?", "", false},
		{"https://proxy.example.com/v1/?", "", false},
		{"https://proxy.example.com/v1#", "", false},
		{"https://proxy.example.com/v1%3F", "https://proxy.example.com/v1%3F", true},
		{"https://" + strings.Repeat("a", MaxBaseURLLength), "", false},
	} {
		got, err := normalizeBaseURL(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("normalizeBaseURL(%q) = %q, %v", tc.in, got, err)
		}
		if err != nil {
			if v, ok := fielderr.As(err); !ok || v.Field != "base_url" {
				t.Errorf("error %v is not a validation error on base_url", err)
			}
		}
	}
}

func TestValidateHeaders(t *testing.T) {
	many := map[string]string{}
	for i := range MaxExtraHeaders + 1 {
		many["X-H"+strings.Repeat("a", i)] = "v"
	}
	for _, tc := range []struct {
		name      string
		headers   map[string]string
		keyHeader string
		ok        bool
	}{
		{"none", nil, "Authorization", true},
		{"org header", map[string]string{"OpenAI-Organization": "org-1"}, "Authorization", true},
		{"overrides key header", map[string]string{"authorization": "Bearer other"}, "Authorization", false},
		{"overrides x-api-key", map[string]string{"X-API-KEY": "k"}, "x-api-key", false},
		{"authorization fine when key is elsewhere", map[string]string{"Authorization": "Basic x"}, "x-api-key", true},
		{"no key header", map[string]string{"Authorization": "x"}, "", true},
		{"bad name", map[string]string{"Bad Header": "v"}, "Authorization", false},
		{"empty name", map[string]string{"": "v"}, "Authorization", false},
		{"crlf value", map[string]string{"X-Ok": "v\r\nX-Evil: 1"}, "Authorization", false},
		{"host", map[string]string{"host": "internal"}, "Authorization", false},
		{"too many", many, "Authorization", false},
	} {
		err := validateHeaders(tc.headers, tc.keyHeader)
		if (err == nil) != tc.ok {
			t.Errorf("%s: validateHeaders = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil {
			if v, ok := fielderr.As(err); !ok || v.Field != "additional_headers" {
				t.Errorf("%s: %v is not a validation error on additional_headers", tc.name, err)
			}
		}
	}
}

func TestExtractModels(t *testing.T) {
	doc := map[string]any{
		"data":   []any{map[string]any{"id": "a"}, map[string]any{"id": 7}, map[string]any{"id": "b"}, "junk"},
		"models": []any{map[string]any{"name": "models/gemini"}},
		"nested": map[string]any{"list": []any{map[string]any{"id": "n1"}}},
	}
	for field, want := range map[string]string{
		"data[].id":         "a,b",
		"models[].name":     "models/gemini",
		"nested.list[].id":  "n1",
		"missing[].id":      "",
		"data.id":           "",
		"data[].id.deeper":  "",
		"models[].name[].x": "",
	} {
		if got := strings.Join(ExtractModels(doc, field, MaxModels), ","); got != want {
			t.Errorf("ExtractModels(%q) = %q, want %q", field, got, want)
		}
	}
	bare := []any{map[string]any{"id": "x"}, map[string]any{"id": "y"}, map[string]any{"id": "z"}}
	if got := ExtractModels(bare, "[].id", 2); len(got) != 2 || got[1] != "y" {
		t.Errorf("capped bare array = %v", got)
	}
	for _, bad := range []string{"", "data[.id", "a..b", "a[]b.c"} {
		if ValidateModelsField(bad) == nil {
			t.Errorf("ValidateModelsField(%q) accepted", bad)
		}
	}
}

func TestGenerateKey(t *testing.T) {
	for _, tc := range []struct {
		in, bytes int
		ok        bool
	}{{0, 32, true}, {16, 16, true}, {128, 128, true}, {15, 0, false}, {129, 0, false}, {-1, 0, false}} {
		key, n, err := GenerateKey(tc.in)
		if (err == nil) != tc.ok || n != tc.bytes {
			t.Errorf("GenerateKey(%d) = %d bytes, %v", tc.in, n, err)
			continue
		}
		if err != nil {
			if v, ok := fielderr.As(err); !ok || v.Field != "length" {
				t.Errorf("GenerateKey(%d) error %v is not a validation error on length", tc.in, err)
			}
			continue
		}
		if want := (tc.bytes*8 + 5) / 6; len(key) != want || strings.ContainsAny(key, "+/=") {
			t.Errorf("GenerateKey(%d) = %d chars %q, want %d base64url chars", tc.in, len(key), key, want)
		}
	}
	a, _, _ := GenerateKey(32)
	b, _, _ := GenerateKey(32)
	if a == b {
		t.Error("two generated keys are equal")
	}
}
