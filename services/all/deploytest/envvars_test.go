package deploytest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/pkg/testkit"
	credential "github.com/nonefinity/backend/services/credential/app"
	datasetquery "github.com/nonefinity/backend/services/datasetquery/app"
	fileingest "github.com/nonefinity/backend/services/fileingest/app"
	gateway "github.com/nonefinity/backend/services/gateway/app"
)

// codeVar is one environment variable the code reads, and where.
type codeVar struct {
	name string
	// dirs are the directories (relative to the repository) of the files
	// that read it.
	dirs []string
	// directDirs are those of dirs that read it directly (os.Getenv or a
	// map lookup) rather than through a configuration struct.
	directDirs []string
}

// readByCode finds every variable the non-test code of the workspace reads:
// caarlos0/env struct tags (env:"NAME"), os.Getenv and os.LookupEnv calls,
// and lookups of a literal NAME in an environment map (pkg/config reads
// ENV_FILE so). pkg/testkit is left out: it runs inside tests only.
func readByCode(t *testing.T) map[string]*codeVar {
	t.Helper()
	root := testkit.RepoRoot(t)
	vars := map[string]*codeVar{}
	add := func(name, file string, direct bool) {
		dir, _ := filepath.Rel(root, filepath.Dir(file))
		v := vars[name]
		if v == nil {
			v = &codeVar{name: name}
			vars[name] = v
		}
		if !slices.Contains(v.dirs, dir) {
			v.dirs = append(v.dirs, dir)
		}
		if direct && !slices.Contains(v.directDirs, dir) {
			v.directDirs = append(v.directDirs, dir)
		}
	}
	envName := regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$`)
	for _, top := range []string{"contracts", "pkg", "services"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == "testdata" || path == filepath.Join(root, "pkg", "testkit") {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.Field:
					if n.Tag != nil {
						tag, _ := strconv.Unquote(n.Tag.Value)
						if name, _, _ := strings.Cut(reflect.StructTag(tag).Get("env"), ","); name != "" {
							add(name, path, false)
						}
					}
				case *ast.CallExpr:
					sel, ok := n.Fun.(*ast.SelectorExpr)
					if !ok || len(n.Args) == 0 {
						return true
					}
					if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "os" && (sel.Sel.Name == "Getenv" || sel.Sel.Name == "LookupEnv") {
						if s, ok := stringLit(n.Args[0]); ok {
							add(s, path, true)
						}
					}
				case *ast.IndexExpr:
					if s, ok := stringLit(n.Index); ok && envName.MatchString(s) {
						add(s, path, true)
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(vars) < 20 {
		t.Fatalf("found only %d variables in the code: the scan is broken", len(vars))
	}
	return vars
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// documentedInReadme are the variables named in the first column of the
// tables under README.md's "## Configuration".
func documentedInReadme(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "\n## Configuration\n")
	if start < 0 {
		t.Fatal("README.md has no ## Configuration section")
	}
	section := text[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	names := map[string]bool{}
	varInCell := regexp.MustCompile("`([A-Z][A-Z0-9_]*)`")
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 3 {
			continue
		}
		for _, m := range varInCell.FindAllStringSubmatch(cells[1], -1) {
			names[m[1]] = true
		}
	}
	return names
}

// inEnvExample are the variables .env.example has a line for
// ("# NAME=value" or "NAME=value").
func inEnvExample(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	line := regexp.MustCompile(`(?m)^#?\s?([A-Z][A-Z0-9_]*)=`)
	for _, m := range line.FindAllStringSubmatch(string(data), -1) {
		names[m[1]] = true
	}
	return names
}

// configVar is a variable of a service's configuration type and its default.
type configVar struct {
	name       string
	def        string
	hasDefault bool
}

// varsOfConfig walks a configuration struct as caarlos0/env does: tagged
// fields are variables, untagged struct fields are walked into.
func varsOfConfig(t reflect.Type) map[string]configVar {
	out := map[string]configVar{}
	for i := range t.NumField() {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("env"), ","); name != "" {
			def, ok := f.Tag.Lookup("envDefault")
			out[name] = configVar{name: name, def: def, hasDefault: ok}
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			for k, v := range varsOfConfig(ft) {
				out[k] = v
			}
		}
	}
	return out
}

func names(v any) []string {
	return sortedKeys(varsOfConfig(reflect.TypeOf(v)))
}

// goService is one of the four services as compose runs it: the build arg
// SERVICE names the binary, and Config is the type its main loads.
type goService struct {
	config any
	// secret are variables of Config that this container must never get:
	// keys of a part of the system it has no business in.
	secret map[string]string
	// unused are variables config.Base makes every service parse that this
	// one never uses; compose need not pass them (and may). What only one
	// service reads is in its own Settings, so no other service parses it.
	unused map[string]string
}

func reasons(reason string, lists ...[]string) map[string]string {
	out := map[string]string{}
	for _, l := range lists {
		for _, n := range l {
			out[n] = reason
		}
	}
	return out
}

func merged(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func goServices() map[string]goService {
	var (
		objectKeys     = []string{"MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"}
		objectPlace    = without(names(config.MinIO{}), objectKeys...)
		credentialKeys = without(names(credential.Encryption{}), "CREDENTIAL_KDF_ITERATIONS")
		clerkSecrets   = []string{"CLERK_SECRET_KEY", "CLERK_WEBHOOK_SECRET"}
		http           = []string{"APP_HOST", "APP_PORT", "CORS_ORIGINS"}

		// Every service: compose fixes MONGO_URI and REDIS_URL, which win
		// over the parts; the rest concern a developer's terminal.
		everyone = merged(
			reasons("MONGO_URI, set by compose, wins over it", []string{"MONGO_HOST", "MONGO_PORT", "MONGO_USER", "MONGO_PWD"}),
			reasons("REDIS_URL, set by compose, wins over it", []string{"REDIS_HOST", "REDIS_PORT", "REDIS_PWD"}),
			reasons("compose passes the variables themselves, not a file", []string{"ENV_FILE"}),
			reasons("colours only a terminal's dev log (compose runs APP_ENV=prod)", []string{"NO_COLOR"}),
		)
		noDataDir = reasons("DATA_DIR holds make run's embedded data and dev keys; unused here", []string{"DATA_DIR"})
	)
	return map[string]goService{
		"gateway": {
			config: gateway.Config{},
			secret: merged(
				reasons("the gateway never holds object-store keys", objectKeys),
				reasons("only credential holds the key that encrypts API keys", credentialKeys)),
			unused: merged(everyone, noDataDir,
				reasons("the gateway stores no objects", objectPlace),
				reasons("dev auth only; compose runs APP_ENV=prod", []string{"CLERK_DEV_CREATE_TOKEN"})),
		},
		"credential": {
			config: credential.Config{},
			secret: merged(
				reasons("credential stores no objects", objectKeys),
				reasons("the gateway's Clerk secrets", clerkSecrets)),
			unused: merged(everyone, noDataDir,
				reasons("credential stores no objects", objectPlace),
				reasons("credential has no HTTP listener", http)),
		},
		"fileingest": {
			config: fileingest.Config{},
			secret: merged(
				reasons("only credential holds the key that encrypts API keys", credentialKeys),
				reasons("the gateway's Clerk secrets", clerkSecrets)),
			unused: merged(everyone, noDataDir,
				// CORS_ORIGINS is used: fileingest sets the bucket's CORS.
				reasons("fileingest has no HTTP listener", []string{"APP_HOST", "APP_PORT"})),
		},
		"datasetquery": {
			config: datasetquery.Config{},
			secret: merged(
				reasons("only credential holds the key that encrypts API keys", credentialKeys),
				reasons("the gateway's Clerk secrets", clerkSecrets)),
			unused: merged(everyone,
				reasons("datasetquery has no HTTP listener", http)),
		},
	}
}

// TestEveryVariableIsDocumentedAndPassed compares the variables the code
// reads with README.md's configuration table and .env.example (each one
// documented, nothing documented that no code reads), and with what
// docker-compose.yml passes to each service's container: every variable its
// configuration reads, unless listed above as unused there with a reason;
// never a secret of another part of the system; nothing it does not read;
// and a ${NAME:-default} only with the code's own default.
func TestEveryVariableIsDocumentedAndPassed(t *testing.T) {
	code := readByCode(t)
	readme := documentedInReadme(t)
	example := inEnvExample(t)
	compose := loadCompose(t)

	composeText, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	composeVars := map[string]bool{}
	for _, m := range interpolation.FindAllStringSubmatch(string(composeText), -1) {
		composeVars[m[1]] = true
	}

	for _, name := range sortedKeys(code) {
		if !readme[name] {
			t.Errorf("%s (read in %s) has no row in README.md's configuration table", name, strings.Join(code[name].dirs, ", "))
		}
		if !example[name] {
			t.Errorf("%s (read in %s) has no line in .env.example", name, strings.Join(code[name].dirs, ", "))
		}
	}
	for _, name := range sortedKeys(readme) {
		if code[name] == nil {
			t.Errorf("README.md documents %s, which no code reads", name)
		}
	}
	for _, name := range sortedKeys(example) {
		if code[name] == nil && !composeVars[name] {
			t.Errorf(".env.example has %s, which neither the code nor docker-compose.yml reads", name)
		}
	}

	services := goServices()
	seen := map[string]bool{}
	for _, name := range sortedKeys(compose.Services) {
		svc := compose.Services[name]
		if svc.Build == nil {
			continue
		}
		binary := svc.Build.Args["SERVICE"]
		want, ok := services[binary]
		if !ok {
			t.Errorf("compose service %s builds SERVICE=%q, which this test does not know", name, binary)
			continue
		}
		seen[binary] = true
		t.Run(name, func(t *testing.T) {
			reads := varsOfConfig(reflect.TypeOf(want.config))
			// os.Getenv and map lookups in pkg/ run in every service, those
			// under services/<binary>/ in that one.
			for _, v := range code {
				for _, dir := range v.directDirs {
					if strings.HasPrefix(dir, "pkg/") || strings.HasPrefix(dir, "services/"+binary+"/") {
						if _, tagged := reads[v.name]; !tagged {
							reads[v.name] = configVar{name: v.name}
						}
					}
				}
			}
			for _, n := range sortedKeys(reads) {
				_, passed := svc.Environment[n]
				_, unused := want.unused[n]
				_, secret := want.secret[n]
				if !passed && !unused && !secret {
					t.Errorf("%s reads %s, but docker-compose.yml does not pass it", name, n)
				}
			}
			for _, n := range sortedKeys(want.secret) {
				if _, passed := svc.Environment[n]; passed {
					t.Errorf("docker-compose.yml passes %s to %s: %s", n, name, want.secret[n])
				}
			}
			for _, n := range sortedKeys(want.unused) {
				if _, read := reads[n]; !read {
					t.Errorf("test lists %s as unused by %s, which does not read it at all: drop it", n, name)
				}
			}
			for _, n := range sortedKeys(svc.Environment) {
				v, read := reads[n]
				if !read {
					t.Errorf("docker-compose.yml passes %s to %s, which does not read it", n, name)
					continue
				}
				value := svc.Environment[n]
				if value == nil {
					continue
				}
				for _, m := range interpolation.FindAllStringSubmatch(*value, -1) {
					if m[1] == n && m[2] == ":-" && (!v.hasDefault || m[3] != v.def) {
						t.Errorf("%s of %s defaults to %q in docker-compose.yml but to %q in the code: leave it unset instead", n, name, m[3], v.def)
					}
				}
			}
		})
	}
	for _, binary := range sortedKeys(services) {
		if !seen[binary] {
			t.Errorf("docker-compose.yml runs no %s", binary)
		}
	}
}
