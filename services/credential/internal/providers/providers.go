// Package providers reads the providers file: the embedded default
// (providers.yaml) or the file PROVIDERS_FILE names. Every problem is
// reported with the line it is on, and a file with any problem yields no
// providers at all, so a bad edit never half-replaces the catalogue.
package providers

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/nonefinity/backend/services/credential/internal/credential"
)

//go:embed providers.yaml
var defaultFile []byte

// EmbeddedSource names the embedded file in errors.
const EmbeddedSource = "embedded providers.yaml"

// Catalog loads the providers file; the zero value loads the embedded one.
type Catalog struct {
	// Path is PROVIDERS_FILE; empty means the embedded default.
	Path string
}

var _ credential.Catalog = Catalog{}

// Load reads and parses the file, afresh on every call, so a refresh picks
// up edits.
func (c Catalog) Load() ([]credential.Provider, error) {
	if c.Path == "" {
		return Parse(defaultFile, EmbeddedSource)
	}
	data, err := os.ReadFile(c.Path)
	if err != nil {
		return nil, fmt.Errorf("providers file: %w", err)
	}
	return Parse(data, c.Path)
}

type fileDoc struct {
	Providers []entry `yaml:"providers"`
}

type entry struct {
	ProviderName string            `yaml:"provider_name"`
	Name         string            `yaml:"name"`
	BaseURL      string            `yaml:"base_url"`
	APIKeyHeader *string           `yaml:"api_key_header"`
	APIKeyPrefix string            `yaml:"api_key_prefix"`
	RequiresKey  *bool             `yaml:"requires_key"`
	IsActive     *bool             `yaml:"is_active"`
	Headers      map[string]string `yaml:"headers"`
	Validation   *validation       `yaml:"validation"`
}

type validation struct {
	Method       string `yaml:"method"`
	Path         string `yaml:"path"`
	ExpectStatus []int  `yaml:"expect_status"`
	Models       string `yaml:"models"`
}

var providerNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Parse reads a providers file. source names it in errors, which always
// carry a line number.
func Parse(data []byte, source string) ([]credential.Provider, error) {
	fail := func(line int, format string, args ...any) error {
		return fmt.Errorf("providers file %s: line %d: %s", source, line, fmt.Sprintf(format, args...))
	}
	// Syntax, types and unknown keys; yaml's own errors name the line.
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc fileDoc
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fail(1, "the file is empty")
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			// Each entry reads "line N: field x not found in type …".
			return nil, fmt.Errorf("providers file %s: %s", source, strings.Join(te.Errors, "; "))
		}
		line, msg := syntaxProblem(data, err)
		return nil, fail(line, "%s", msg)
	}
	// The node tree gives every provider its line for the checks below.
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("providers file %s: %w", source, err)
	}
	items := providerNodes(&root)
	if len(doc.Providers) == 0 || len(items) != len(doc.Providers) {
		return nil, fail(lineOf(&root), "no providers: the file needs a top-level providers: list")
	}
	seen := map[string]int{}
	out := make([]credential.Provider, 0, len(doc.Providers))
	for i, e := range doc.Providers {
		line := items[i].Line
		p, err := e.toCore()
		if err != nil {
			return nil, fail(line, "provider %q: %v", e.ProviderName, err)
		}
		if first, dup := seen[p.Name]; dup {
			return nil, fail(line, "provider %q is listed twice (first on line %d)", p.Name, first)
		}
		seen[p.Name] = line
		out = append(out, p)
	}
	return out, nil
}

var yamlLinePrefix = regexp.MustCompile(`^yaml: (line \d+: )?`)

// syntaxProblem finds the line of a syntax error. yaml names the line where
// the enclosing block starts, which can be far above the mistake, so the
// file is parsed line by line to find the first line that cannot parse.
func syntaxProblem(data []byte, err error) (int, string) {
	msg := yamlLinePrefix.ReplaceAllString(err.Error(), "")
	lines := bytes.SplitAfter(data, []byte("\n"))
	prefix := make([]byte, 0, len(data))
	for i, l := range lines {
		prefix = append(prefix, l...)
		var n yaml.Node
		if yaml.Unmarshal(prefix, &n) != nil {
			return i + 1, msg
		}
	}
	return len(lines), msg
}

func providerNodes(root *yaml.Node) []*yaml.Node {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil
	}
	m := root.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "providers" && m.Content[i+1].Kind == yaml.SequenceNode {
			return m.Content[i+1].Content
		}
	}
	return nil
}

func lineOf(root *yaml.Node) int {
	if len(root.Content) > 0 {
		return root.Content[0].Line
	}
	return 1
}

func (e entry) toCore() (credential.Provider, error) {
	if !providerNameRE.MatchString(e.ProviderName) {
		return credential.Provider{}, errors.New("provider_name must be 1-64 of a-z, 0-9, - and _, starting with a letter or digit")
	}
	if strings.TrimSpace(e.Name) == "" {
		return credential.Provider{}, errors.New("name is required")
	}
	u, err := url.Parse(e.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return credential.Provider{}, errors.New("base_url must be an absolute http(s) URL")
	}
	if strings.ContainsAny(e.BaseURL, "?#") {
		return credential.Provider{}, errors.New("base_url must not have a query or fragment: the probe path is appended to it")
	}
	p := credential.Provider{
		Name: e.ProviderName, DisplayName: strings.TrimSpace(e.Name), BaseURL: strings.TrimRight(e.BaseURL, "/"),
		APIKeyPrefix: e.APIKeyPrefix, RequiresKey: true, IsActive: true, Headers: e.Headers,
	}
	if e.RequiresKey != nil {
		p.RequiresKey = *e.RequiresKey
	}
	if e.IsActive != nil {
		p.IsActive = *e.IsActive
	}
	if e.APIKeyHeader != nil {
		p.APIKeyHeader = *e.APIKeyHeader
	}
	switch {
	case e.APIKeyHeader == nil:
		return credential.Provider{}, errors.New(`api_key_header is required ("" for a provider without a key)`)
	case p.APIKeyHeader == "" && p.RequiresKey:
		return credential.Provider{}, errors.New("api_key_header is empty but requires_key is true")
	case p.APIKeyHeader != "" && !validHeaderName(p.APIKeyHeader):
		return credential.Provider{}, fmt.Errorf("api_key_header %q is not a valid header name", p.APIKeyHeader)
	}
	for name, value := range e.Headers {
		if !validHeaderName(name) || strings.ContainsAny(value, "\r\n\x00") {
			return credential.Provider{}, fmt.Errorf("header %q is not a valid header", name)
		}
	}
	probe, err := e.Validation.toCore()
	if err != nil {
		return credential.Provider{}, err
	}
	p.Probe = probe
	return p, nil
}

func (v *validation) toCore() (credential.Probe, error) {
	if v == nil {
		return credential.Probe{}, errors.New("validation (the key test probe) is required")
	}
	pr := credential.Probe{Method: strings.ToUpper(v.Method), Path: v.Path, ExpectStatus: v.ExpectStatus, ModelsField: v.Models}
	if pr.Method == "" {
		pr.Method = http.MethodGet
	}
	if pr.Method != http.MethodGet && pr.Method != http.MethodPost && pr.Method != http.MethodHead {
		return credential.Probe{}, fmt.Errorf("validation.method %q: use GET, POST or HEAD", v.Method)
	}
	if !strings.HasPrefix(pr.Path, "/") || strings.Contains(pr.Path, "://") {
		return credential.Probe{}, errors.New("validation.path must start with /")
	}
	if len(pr.ExpectStatus) == 0 {
		pr.ExpectStatus = []int{http.StatusOK}
	}
	for _, st := range pr.ExpectStatus {
		if st < 100 || st > 599 {
			return credential.Probe{}, fmt.Errorf("validation.expect_status %d is not an HTTP status", st)
		}
	}
	if pr.ModelsField != "" {
		if err := credential.ValidateModelsField(pr.ModelsField); err != nil {
			return credential.Probe{}, fmt.Errorf("validation.models: %w", err)
		}
	}
	return pr, nil
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
