package deploytest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/nonefinity/backend/pkg/testkit"
)

// composeFile is the part of docker-compose.yml these tests read.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image       string      `yaml:"image"`
	Command     []string    `yaml:"command"`
	Environment environment `yaml:"-"`
	Volumes     []string    `yaml:"volumes"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	Build *struct {
		Dockerfile string            `yaml:"dockerfile"`
		Args       map[string]string `yaml:"args"`
	} `yaml:"build"`
}

// environment is a service's variables, name -> value as written (nil for a
// name without a value, which compose passes through from its own
// environment). Compose accepts a map or a list of NAME[=value].
type environment map[string]*string

func (s *composeService) UnmarshalYAML(n *yaml.Node) error {
	type plain composeService
	var raw struct {
		plain       `yaml:",inline"`
		Environment yaml.Node `yaml:"environment"`
	}
	if err := n.Decode(&raw); err != nil {
		return err
	}
	*s = composeService(raw.plain)
	s.Environment = environment{}
	switch raw.Environment.Kind {
	case 0:
		return nil
	case yaml.SequenceNode:
		var list []string
		if err := raw.Environment.Decode(&list); err != nil {
			return err
		}
		for _, item := range list {
			name, value, ok := strings.Cut(item, "=")
			if ok {
				s.Environment[name] = &value
			} else {
				s.Environment[name] = nil
			}
		}
		return nil
	}
	// A map, merge keys (<<: *anchor) included.
	return raw.Environment.Decode((*map[string]*string)(&s.Environment))
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	path := filepath.Join(testkit.RepoRoot(t), "docker-compose.yml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	if len(f.Services) == 0 {
		t.Fatalf("%s: no services", path)
	}
	return f
}

// interpolation is compose's ${NAME}, ${NAME:-default} and ${NAME:?message}.
var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

// interpolate expands s as compose would with the variables in vars; a
// missing variable takes its default, or "" when it has none.
func interpolate(s string, vars map[string]string) string {
	return interpolation.ReplaceAllStringFunc(s, func(m string) string {
		g := interpolation.FindStringSubmatch(m)
		if v, ok := vars[g[1]]; ok && v != "" {
			return v
		}
		if strings.HasSuffix(g[2], "-") {
			return g[3]
		}
		return ""
	})
}

// newSecret is a random secret made as deploy/README.md tells operators to
// make NATS passwords: a letter first, since nats-server parses the variable
// as a value.
func newSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "nf" + hex.EncodeToString(b)
}

// hostArgs maps a container's command onto this machine: an argument under
// a bind-mounted path points into the repository, one under a named volume
// into a fresh directory.
func hostArgs(t *testing.T, svc composeService) []string {
	t.Helper()
	root := testkit.RepoRoot(t)
	type mount struct{ target, source string }
	var mounts []mount
	for _, v := range svc.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 {
			continue // an anonymous volume
		}
		source := parts[0]
		if strings.HasPrefix(source, ".") || strings.HasPrefix(source, "/") {
			source = filepath.Join(root, source)
		} else {
			source = t.TempDir()
		}
		mounts = append(mounts, mount{target: parts[1], source: source})
	}
	args := make([]string, len(svc.Command))
	for i, a := range svc.Command {
		args[i] = a
		for _, m := range mounts {
			if a == m.target || strings.HasPrefix(a, m.target+"/") {
				args[i] = m.source + strings.TrimPrefix(a, m.target)
			}
		}
	}
	return args
}
