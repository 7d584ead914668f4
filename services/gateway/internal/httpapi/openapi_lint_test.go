package httpapi_test

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/gateway/internal/httpapi"
	"github.com/nonefinity/backend/services/gateway/internal/sse"
	"github.com/nonefinity/backend/services/gateway/internal/sseticket"
)

// withEveryRoute mounts every optional handler, so the document holds
// every operation the gateway can serve.
func withEveryRoute(o *httpapi.Options) {
	o.Webhooks = http.NotFoundHandler()
	o.JWKS = http.NotFoundHandler()
	o.Events = sse.New(nil, sse.Options{})
	o.EventTickets = sseticket.New(sseticket.Options{Store: sseticket.NewMemoryStore(nil)})
}

// redoclyProblem is one finding of `redocly lint --format json`.
type redoclyProblem struct {
	RuleID   string `json:"ruleId"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
	Location []struct {
		Pointer string `json:"pointer"`
	} `json:"location"`
}

// Redocly's recommended ruleset, run by the real linter (make redocly
// installs @redocly/cli), finds neither an error nor a warning in the
// document with every optional route mounted.
func TestOpenAPIPassesRedoclyRecommended(t *testing.T) {
	redocly := filepath.Join(testkit.RepoRoot(t), "bin", "redocly", "node_modules", ".bin", "redocly")
	if _, err := os.Stat(redocly); err != nil {
		t.Fatalf("%v: install it with `make redocly` (make test does)", err)
	}
	var keys *keyInstance
	_, raw := fetchOpenAPI(t, newHarness(t, nil, withEveryRoute, withAPIKeys(t, testkit.Mongo(t), keyConfig{}, &keys)))
	dir := t.TempDir()
	file := filepath.Join(dir, "openapi.json")
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	// info-license is the one rule left out: the project names no license,
	// and choosing one is not the document's to do.
	cmd := exec.Command(redocly, "lint", "--extends", "recommended", "--skip-rule", "info-license",
		"--format", "json", "--max-problems", "1000", file)
	cmd.Dir = dir // no redocly.yaml of the repository's is picked up
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true")
	out, err := cmd.Output()
	var report struct {
		Totals struct {
			Errors   int `json:"errors"`
			Warnings int `json:"warnings"`
		} `json:"totals"`
		Problems []redoclyProblem `json:"problems"`
	}
	if jerr := json.Unmarshal(out, &report); jerr != nil {
		t.Fatalf("redocly lint: %v (%v)\n%s", err, jerr, out)
	}
	for _, p := range report.Problems {
		at := ""
		if len(p.Location) > 0 {
			at = p.Location[0].Pointer
		}
		t.Errorf("%s %s at %s: %s", p.Severity, p.RuleID, at, p.Message)
	}
	if report.Totals.Errors+report.Totals.Warnings != len(report.Problems) || err != nil && len(report.Problems) == 0 {
		t.Errorf("redocly lint: %v, totals %+v", err, report.Totals)
	}
}
