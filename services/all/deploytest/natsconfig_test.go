package deploytest

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/nonefinity/backend/pkg/testkit"
)

// TestNATSConfigsPassTheRealServersCheck runs the released nats-server, of
// the minor version docker-compose.yml's image runs, with -t over every
// config in deploy/: the single server exactly as compose starts it
// (command, mounts and environment read from docker-compose.yml), and each
// cluster node as deploy/README.md's compose snippet starts it. A config no
// started server reads, directly or by include, fails the test, so a new one
// cannot go unchecked.
func TestNATSConfigsPassTheRealServersCheck(t *testing.T) {
	bin := testkit.FindNATSBinary(t)
	compose := loadCompose(t)
	nats, ok := compose.Services["nats"]
	if !ok {
		t.Fatal("docker-compose.yml has no nats service")
	}
	image := regexp.MustCompile(`^nats:(\d+)\.(\d+)\b`).FindStringSubmatch(nats.Image)
	if image == nil {
		t.Fatalf("nats image %q does not name a minor version (nats:2.11-alpine)", nats.Image)
	}
	if image[1] != strconv.Itoa(bin.Major) || image[2] != strconv.Itoa(bin.Minor) {
		t.Fatalf("compose runs %s but the tests run nats-server %s: set the Makefile's NATS_SERVER_VERSION to that minor version", nats.Image, bin.Version)
	}

	passwords := map[string]string{}
	for name := range nats.Environment {
		passwords[name] = newSecret(t)
	}
	env := func(extra map[string]string) []string {
		var out []string
		for k, v := range passwords {
			out = append(out, k+"="+v)
		}
		for k, v := range extra {
			out = append(out, k+"="+v)
		}
		return out
	}

	checked := map[string]bool{}
	check := func(t *testing.T, env []string, args []string) {
		t.Helper()
		out, err := testkit.CheckNATSConfig(bin, env, args...)
		if err != nil || !strings.Contains(out, "is valid") {
			t.Fatalf("nats-server %s refuses its config: %v\n%s", strings.Join(args, " "), err, out)
		}
		config := configArg(t, args)
		for _, f := range withIncludes(t, config) {
			checked[f] = true
		}
	}

	t.Run("compose", func(t *testing.T) {
		check(t, env(nil), hostArgs(t, nats))
	})

	t.Run("compose command with -sd is refused", func(t *testing.T) {
		// The command compose had before: the store directory given both by
		// flag and by nats.conf. The check must see what the server saw.
		args := append([]string{"-js", "-sd", t.TempDir()}, hostArgs(t, nats)...)
		out, err := testkit.CheckNATSConfig(bin, env(nil), args...)
		if err == nil || !strings.Contains(out, "Duplicate 'store_dir'") {
			t.Fatalf("nats-server -t accepted a store_dir given twice (err %v):\n%s", err, out)
		}
	})

	node := clusterNodeFromReadme(t)
	clusterPassword := newSecret(t)
	nodeEnv := map[string]string{}
	for name, value := range node.Environment {
		if value == nil {
			t.Fatalf("deploy/README.md cluster snippet: %s has no value", name)
		}
		nodeEnv[name] = interpolate(*value, map[string]string{"NATS_CLUSTER_PASSWORD": clusterPassword})
	}
	configs, _ := filepath.Glob(filepath.Join(testkit.RepoRoot(t), "deploy", "nats", "cluster", "nats-*.conf"))
	if len(configs) == 0 {
		t.Fatal("no deploy/nats/cluster/nats-*.conf")
	}
	for _, config := range configs {
		name := strings.TrimSuffix(filepath.Base(config), ".conf")
		t.Run("cluster/"+name, func(t *testing.T) {
			// The snippet shows node 1; every node is started the same way
			// with its own file.
			n := node
			n.Command = slices.Clone(node.Command)
			for i, a := range n.Command {
				n.Command[i] = strings.ReplaceAll(a, "nats-1.conf", name+".conf")
			}
			check(t, env(nodeEnv), hostArgs(t, n))
		})
	}

	var unchecked []string
	_ = filepath.WalkDir(filepath.Join(testkit.RepoRoot(t), "deploy"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".conf") && !checked[path] {
			unchecked = append(unchecked, path)
		}
		return nil
	})
	if len(unchecked) > 0 {
		t.Errorf("configs no checked server reads (start them in a subtest above): %v", unchecked)
	}
}

// configArg is the file after -c (or --config) in args.
func configArg(t *testing.T, args []string) string {
	t.Helper()
	for i, a := range args {
		if (a == "-c" || a == "--config") && i+1 < len(args) {
			return args[i+1]
		}
	}
	t.Fatalf("no -c in %v", args)
	return ""
}

var includeLine = regexp.MustCompile(`^\s*include\s+["']?([^"'\s;]+)`)

// withIncludes is config and every file it includes, recursively, as
// absolute paths (nats-server resolves includes relative to the including
// file).
func withIncludes(t *testing.T, config string) []string {
	t.Helper()
	config, _ = filepath.Abs(config)
	files := []string{config}
	f, err := os.Open(config)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := includeLine.FindStringSubmatch(sc.Text()); m != nil {
			files = append(files, withIncludes(t, filepath.Join(filepath.Dir(config), m[1]))...)
		}
	}
	return files
}

// clusterNodeFromReadme is the compose service of node 1 that deploy/README.md
// shows under "Scaling out", with the six user passwords that its comment
// refers to left to the caller.
func clusterNodeFromReadme(t *testing.T) composeService {
	t.Helper()
	path := filepath.Join(testkit.RepoRoot(t), "deploy", "README.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(data), -1)
	for _, b := range blocks {
		if !strings.Contains(b[1], "cluster/nats-1.conf") {
			continue
		}
		var services map[string]composeService
		if err := yaml.Unmarshal([]byte(dedent(b[1])), &services); err != nil {
			t.Fatalf("%s: cluster snippet: %v", path, err)
		}
		node, ok := services["nats-1"]
		if !ok {
			t.Fatalf("%s: cluster snippet has no nats-1 service", path)
		}
		return node
	}
	t.Fatalf("%s: no yaml block starting cluster/nats-1.conf", path)
	return composeService{}
}

// dedent removes the indentation a Markdown list item gives a code block.
func dedent(s string) string {
	lines := strings.Split(s, "\n")
	indent := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " "))
		if indent < 0 || n < indent {
			indent = n
		}
	}
	for i, l := range lines {
		if len(l) >= indent {
			lines[i] = l[indent:]
		}
	}
	return strings.Join(lines, "\n")
}

// sortedKeys is for stable messages.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
