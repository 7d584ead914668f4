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
