package all_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nonefinity/backend/pkg/testkit"
)

// Packages a production service binary must never link: DuckDB is linked by
// datasetquery alone, and the embedded servers are for services/all and tests.
var (
	embeddedServers = []string{
		"github.com/nats-io/nats-server/",
		"github.com/FerretDB/",
		"github.com/versity/versitygw",
		"github.com/nonefinity/backend/pkg/embedded",
		"github.com/nonefinity/backend/pkg/testkit",
		"github.com/alicebob/miniredis",
	}
	duckdb = []string{
		"github.com/duckdb/",
		"github.com/marcboeker/go-duckdb",
	}
)

// TestDependencyBoundaries lists each service command's dependencies with the
// workspace switched off, which also proves each module resolves on its own.
func TestDependencyBoundaries(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("go command not on PATH: %v", err)
	}
	cases := []struct {
		service   string
		forbidden []string
	}{
		{"gateway", append(append([]string{}, embeddedServers...), duckdb...)},
		{"credential", append(append([]string{}, embeddedServers...), duckdb...)},
		{"fileingest", append(append([]string{}, embeddedServers...), duckdb...)},
		{"datasetquery", embeddedServers},
	}
	for _, c := range cases {
		t.Run(c.service, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command("go", "list", "-deps", "./cmd/"+c.service)
			// Absolute: testkit.S3 changes the working directory of the process.
			cmd.Dir = filepath.Join(testkit.WorkDir(), "..", c.service)
			cmd.Env = append(cmd.Environ(), "GOWORK=off")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("go list -deps (GOWORK=off) in services/%s: %v\n%s", c.service, err, out)
			}
			deps := strings.Fields(string(out))
			if len(deps) < 50 {
				t.Fatalf("suspiciously few dependencies (%d): %v", len(deps), deps)
			}
			for _, dep := range deps {
				for _, bad := range c.forbidden {
					if strings.HasPrefix(dep, bad) {
						t.Errorf("services/%s/cmd/%s links %s", c.service, c.service, dep)
					}
				}
			}
		})
	}
}

// infrastructure are the modules of the adapters: a core declares what it
// needs of a database, the message bus, the SQL engine or object storage as
// ports and never reaches their clients, not even through a pkg helper.
var infrastructure = []string{
	"go.mongodb.org/mongo-driver",
	"github.com/nats-io/nats.go",
	"github.com/duckdb/",
	"github.com/marcboeker/go-duckdb",
	"github.com/minio/minio-go",
}

// TestCoresImportNoInfrastructure lists each service core's dependencies and
// names, for a forbidden one, the packages that import it.
func TestCoresImportNoInfrastructure(t *testing.T) {
	cores := []struct{ service, core string }{
		{"credential", "./internal/credential"},
		{"fileingest", "./internal/files"},
		{"datasetquery", "./internal/datasets"},
	}
	for _, c := range cores {
		t.Run(c.service, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, c.core)
			cmd.Dir = filepath.Join(testkit.WorkDir(), "..", c.service)
			cmd.Env = append(cmd.Environ(), "GOWORK=off")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("go list -deps %s (GOWORK=off) in services/%s: %v\n%s", c.core, c.service, err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) < 10 {
				t.Fatalf("suspiciously few dependencies (%d): %v", len(lines), lines)
			}
			importers := map[string][]string{}
			for _, line := range lines {
				pkg, imports, _ := strings.Cut(line, " ")
				for _, imp := range strings.Fields(imports) {
					importers[imp] = append(importers[imp], pkg)
				}
			}
			// Only where the chain enters a forbidden module, so each way
			// in is named once.
			for _, line := range lines {
				dep, _, _ := strings.Cut(line, " ")
				if !isInfrastructure(dep) {
					continue
				}
				for _, from := range importers[dep] {
					if !isInfrastructure(from) {
						t.Errorf("services/%s/%s depends on %s, imported by %s", c.service, strings.TrimPrefix(c.core, "./"), dep, from)
					}
				}
			}
		})
	}
}

func isInfrastructure(pkg string) bool {
	for _, bad := range infrastructure {
		if strings.HasPrefix(pkg, bad) {
			return true
		}
	}
	return false
}
