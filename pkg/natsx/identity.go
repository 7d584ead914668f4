package natsx

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// instanceName tells an operator which process answers: the host (a
// container's id in Docker) and the process id.
func instanceName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return host + ":" + strconv.Itoa(os.Getpid())
}

// buildName says which build runs: the version the binary was linked with
// (-X main.version=…, as the Dockerfiles and the Makefile do) and the VCS
// revision Go recorded, whichever are known; "dev" for neither.
func buildName() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	var parts []string
	var revision string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "-ldflags":
			if v := linkedVersion(s.Value); v != "" {
				parts = append(parts, v)
			}
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if revision != "" {
		if len(revision) > 12 {
			revision = revision[:12]
		}
		if dirty {
			revision += "-dirty"
		}
		parts = append(parts, revision)
	}
	if len(parts) == 0 {
		return "dev"
	}
	return strings.Join(parts, "+")
}

// linkedVersion finds main.version in the linker flags.
func linkedVersion(ldflags string) string {
	const key = "main.version="
	i := strings.Index(ldflags, key)
	if i < 0 {
		return ""
	}
	v := ldflags[i+len(key):]
	if j := strings.IndexAny(v, " '\""); j >= 0 {
		v = v[:j]
	}
	return v
}
