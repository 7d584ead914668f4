package boot

import (
	"bufio"
	"bytes"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
)

// MemoryLimit is the Go runtime's soft memory limit of a process and where
// it comes from.
type MemoryLimit struct {
	// Bytes is the limit; 0 when none could be derived.
	Bytes int64
	// Source is "GOMEMLIMIT", "cgroup" or "machine".
	Source string
	// Available is the memory the process may use (the cgroup's limit or
	// the machine's memory), when derived.
	Available int64
}

// ApplyMemoryLimit sets the Go runtime's soft memory limit once per
// process and logs it: GOMEMLIMIT when set (the runtime applied it
// already), else 80% of what the process may use (its cgroup's memory
// limit, v2 or v1, or the machine's memory) less offHeap, the memory the
// process spends outside the Go heap (DuckDB's memory_limit). Without a
// limit the garbage collector lets the heap grow to twice the live data,
// however little memory the container has.
func ApplyMemoryLimit(log *slog.Logger, offHeap int64) MemoryLimit {
	l := decideMemoryLimit(os.Getenv("GOMEMLIMIT"), os.DirFS("/"), offHeap)
	switch {
	case l.Source == "GOMEMLIMIT":
		l.Bytes = debug.SetMemoryLimit(-1)
	case l.Bytes > 0:
		debug.SetMemoryLimit(l.Bytes)
	}
	if log != nil {
		log.Info("Go memory limit", "bytes", l.Bytes, "source", l.Source, "available", l.Available, "off_heap", offHeap)
	}
	return l
}

// decideMemoryLimit is ApplyMemoryLimit's decision, reading the cgroup and
// /proc files from root.
func decideMemoryLimit(gomemlimit string, root fs.FS, offHeap int64) MemoryLimit {
	if strings.TrimSpace(gomemlimit) != "" {
		return MemoryLimit{Source: "GOMEMLIMIT"}
	}
	machine := machineMemory(root)
	available, source := machine, "machine"
	if c := cgroupMemoryLimit(root); c > 0 && (machine == 0 || c < machine) {
		available, source = c, "cgroup"
	}
	if available <= 0 {
		return MemoryLimit{}
	}
	// The heap keeps a fifth of the memory whatever offHeap claims: below
	// that the collector would run without pause.
	limit := max(available/10*8-offHeap, available/5)
	return MemoryLimit{Bytes: limit, Source: source, Available: available}
}

// cgroupMemoryLimit is the smallest memory limit of this process's cgroup
// and its ancestors (v2 memory.max, v1 memory.limit_in_bytes), or 0 when
// there is none.
func cgroupMemoryLimit(root fs.FS) int64 {
	var files []string
	if data, err := fs.ReadFile(root, "proc/self/cgroup"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			// hierarchy-id:controllers:path; v2 has id 0 and no controllers.
			parts := strings.SplitN(sc.Text(), ":", 3)
			if len(parts) != 3 {
				continue
			}
			switch {
			case parts[0] == "0" && parts[1] == "":
				for p := path.Clean("/" + parts[2]); ; p = path.Dir(p) {
					files = append(files, path.Join("sys/fs/cgroup", p, "memory.max"))
					if p == "/" {
						break
					}
				}
			case hasController(parts[1], "memory"):
				for p := path.Clean("/" + parts[2]); ; p = path.Dir(p) {
					files = append(files, path.Join("sys/fs/cgroup/memory", p, "memory.limit_in_bytes"))
					if p == "/" {
						break
					}
				}
			}
		}
	}
	// Inside a container the cgroup namespace makes the root the
	// container's own cgroup.
	files = append(files, "sys/fs/cgroup/memory.max", "sys/fs/cgroup/memory/memory.limit_in_bytes")
	var limit int64
	for _, f := range files {
		data, err := fs.ReadFile(root, f)
		if err != nil {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		// "max" (v2) or a page-rounded maximum (v1) mean no limit.
		if err != nil || v <= 0 || v >= 1<<62 {
			continue
		}
		if limit == 0 || v < limit {
			limit = v
		}
	}
	return limit
}

func hasController(list, name string) bool {
	for c := range strings.SplitSeq(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// machineMemory is MemTotal of /proc/meminfo in bytes, or 0.
func machineMemory(root fs.FS) int64 {
	data, err := fs.ReadFile(root, "proc/meminfo")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// ParseByteSize reads a size as DuckDB writes its memory_limit ("1GB",
// "512MiB", "4 GB"): KB, MB, GB and TB count in powers of 1000, KiB, MiB,
// GiB and TiB in powers of 1024; a bare number is bytes. It returns false
// for anything else (a percentage, an empty string).
func ParseByteSize(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	n, err := strconv.ParseFloat(s[:i], 64)
	if err != nil || n < 0 {
		return 0, false
	}
	units := map[string]float64{
		"": 1, "b": 1, "byte": 1, "bytes": 1,
		"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
	}
	unit, ok := units[strings.ToLower(strings.TrimSpace(s[i:]))]
	if !ok {
		return 0, false
	}
	return int64(n * unit), true
}
