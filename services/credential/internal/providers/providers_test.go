package providers

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestEmbeddedDefault(t *testing.T) {
	ps, err := Catalog{}.Load()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	byName := map[string]int{}
	for i, p := range ps {
		names = append(names, p.Name)
		byName[p.Name] = i
		if p.Probe.Method != "GET" || !strings.HasPrefix(p.Probe.Path, "/") || len(p.Probe.ExpectStatus) == 0 {
			t.Errorf("%s: incomplete probe %+v", p.Name, p.Probe)
		}
		if !p.IsActive {
			t.Errorf("%s is not active by default", p.Name)
		}
	}
	want := []string{"openai", "openrouter", "anthropic", "google", "mistral", "groq", "together", "deepseek", "xai", "ollama"}
	if !slices.Equal(names, want) {
		t.Fatalf("providers = %v, want %v", names, want)
	}
	openai := ps[byName["openai"]]
	if openai.APIKeyHeader != "Authorization" || openai.APIKeyPrefix != "Bearer " || openai.Probe.ModelsField != "data[].id" {
		t.Errorf("openai = %+v", openai)
	}
	// OpenRouter lists models without a key: its probe must need one.
	if p := ps[byName["openrouter"]]; p.Probe.Path != "/key" {
		t.Errorf("openrouter probes %s, want /key", p.Probe.Path)
	}
	anthropic := ps[byName["anthropic"]]
	if anthropic.APIKeyHeader != "x-api-key" || anthropic.APIKeyPrefix != "" || anthropic.Headers["anthropic-version"] == "" {
		t.Errorf("anthropic = %+v", anthropic)
	}
	ollama := ps[byName["ollama"]]
	if ollama.RequiresKey || ollama.APIKeyHeader != "" || ollama.Probe.Path != "/api/tags" {
		t.Errorf("ollama = %+v", ollama)
	}
}

func TestOverrideFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "providers.yaml")
	content := `providers:
  - provider_name: local-llm
    name: Local LLM
    base_url: http://llm.internal:8080/v1/
    api_key_header: Authorization
    api_key_prefix: "Bearer "
    is_active: false
    validation:
      method: get
      path: /models
      expect_status: [200, 204]
      models: "[].id"
`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	ps, err := Catalog{Path: path}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 {
		t.Fatalf("got %d providers", len(ps))
	}
	p := ps[0]
	if p.Name != "local-llm" || p.BaseURL != "http://llm.internal:8080/v1" || p.IsActive || p.Probe.Method != "GET" ||
		!slices.Equal(p.Probe.ExpectStatus, []int{200, 204}) || p.Probe.ModelsField != "[].id" {
		t.Fatalf("provider = %+v", p)
	}
	if _, err := (Catalog{Path: filepath.Join(t.TempDir(), "missing.yaml")}).Load(); err == nil {
		t.Fatal("a missing file loaded")
	}
}

// Every broken file is an error that names the line of the problem.
func TestBrokenFilesNameTheLine(t *testing.T) {
	valid := `  - provider_name: openai
    name: OpenAI
    base_url: https://api.openai.com/v1
    api_key_header: Authorization
    validation:
      path: /models
`
	cases := map[string]struct {
		yaml string
		line string
	}{
		"syntax":          {"providers:\n" + valid + "  - provider_name: x\n    name: [unclosed\n", "line 9"},
		"bad indentation": {"providers:\n" + valid + "   bad: indent\n  wrong\n", "line 8"},
		"unknown key":     {"providers:\n" + valid + "    colour: blue\n", "line 8"},
		"wrong type":      {"providers:\n" + valid + "    is_active: maybe\n", "line 8"},
		"missing name": {"providers:\n" + valid + `  - provider_name: second
    base_url: https://x.example/v1
    api_key_header: Authorization
    validation:
      path: /models
`, "line 8"},
		"duplicate": {"providers:\n" + valid + valid, "line 8"},
		"bad url": {"providers:\n" + valid + `  - provider_name: second
    name: Second
    base_url: ftp://x.example
    api_key_header: Authorization
    validation: {path: /models}
`, "line 8"},
		"url with empty query": {"providers:\n" + valid + `  - provider_name: second
    name: Second
    base_url: https://x.example/v1?
    api_key_header: Authorization
    validation: {path: /models}
`, "line 8"},
		"no probe": {"providers:\n" + valid + `  - provider_name: second
    name: Second
    base_url: https://x.example
    api_key_header: Authorization
`, "line 8"},
		"bad models field": {"providers:\n" + valid + `  - provider_name: second
    name: Second
    base_url: https://x.example
    api_key_header: Authorization
    validation: {path: /models, models: "data[.id"}
`, "line 8"},
		"key header missing": {"providers:\n" + valid + `  - provider_name: second
    name: Second
    base_url: https://x.example
    validation: {path: /models}
`, "line 8"},
		"empty":       {"", "line 1"},
		"no list":     {"something: else\n", "line 1"},
		"empty list":  {"providers: []\n", "line 1"},
		"not mapping": {"- a\n- b\n", "line 1"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ps, err := Parse([]byte(tc.yaml), "test.yaml")
			if err == nil {
				t.Fatalf("parsed %d providers from a broken file", len(ps))
			}
			if ps != nil {
				t.Errorf("a broken file still yielded providers")
			}
			if !strings.Contains(err.Error(), tc.line) || !strings.Contains(err.Error(), "test.yaml") {
				t.Errorf("error %q does not name %s of test.yaml", err, tc.line)
			}
		})
	}
}
