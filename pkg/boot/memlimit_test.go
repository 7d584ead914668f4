package boot

import (
	"strconv"
	"testing"
	"testing/fstest"
)

const gib = int64(1) << 30

func meminfo(total int64) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte("MemTotal:       " + strconv.FormatInt(total>>10, 10) + " kB\nMemFree:        1024 kB\n")}
}

// The limit follows the tightest memory the process may use: a cgroup
// limit below the machine's memory wins, "max" and v1's "unlimited" do not
// count, and DuckDB's share is kept out of it.
func TestDecideMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name       string
		gomemlimit string
		files      fstest.MapFS
		offHeap    int64
		want       MemoryLimit
	}{
		{
			name: "cgroup v2 of the process's own cgroup",
			files: fstest.MapFS{
				"proc/meminfo":     meminfo(64 * gib),
				"proc/self/cgroup": {Data: []byte("0::/kubepods/pod1/ctr\n")},
				"sys/fs/cgroup/kubepods/pod1/ctr/memory.max": {Data: []byte("4294967296\n")},
				"sys/fs/cgroup/kubepods/memory.max":          {Data: []byte("max\n")},
			},
			offHeap: 1 * gib,
			want:    MemoryLimit{Bytes: 4*gib/10*8 - gib, Source: "cgroup", Available: 4 * gib},
		},
		{
			name: "cgroup v2 limit on an ancestor",
			files: fstest.MapFS{
				"proc/meminfo":                    meminfo(64 * gib),
				"proc/self/cgroup":                {Data: []byte("0::/pods/a\n")},
				"sys/fs/cgroup/pods/a/memory.max": {Data: []byte("max\n")},
				"sys/fs/cgroup/pods/memory.max":   {Data: []byte("2147483648\n")},
			},
			want: MemoryLimit{Bytes: 2 * gib / 10 * 8, Source: "cgroup", Available: 2 * gib},
		},
		{
			name: "cgroup v2 inside a container namespace",
			files: fstest.MapFS{
				"proc/meminfo":             meminfo(16 * gib),
				"proc/self/cgroup":         {Data: []byte("0::/\n")},
				"sys/fs/cgroup/memory.max": {Data: []byte("1073741824\n")},
			},
			want: MemoryLimit{Bytes: gib / 10 * 8, Source: "cgroup", Available: gib},
		},
		{
			name: "cgroup v1",
			files: fstest.MapFS{
				"proc/meminfo":     meminfo(16 * gib),
				"proc/self/cgroup": {Data: []byte("12:cpu,cpuacct:/docker/abc\n11:memory:/docker/abc\n")},
				"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": {Data: []byte("3221225472\n")},
			},
			offHeap: 512 << 20,
			want:    MemoryLimit{Bytes: 3*gib/10*8 - 512<<20, Source: "cgroup", Available: 3 * gib},
		},
		{
			name: "cgroup v1 unlimited: the machine's memory",
			files: fstest.MapFS{
				"proc/meminfo":     meminfo(8 * gib),
				"proc/self/cgroup": {Data: []byte("4:memory:/\n")},
				"sys/fs/cgroup/memory/memory.limit_in_bytes": {Data: []byte("9223372036854771712\n")},
			},
			want: MemoryLimit{Bytes: 8 * gib / 10 * 8, Source: "machine", Available: 8 * gib},
		},
		{
			name:    "no cgroup files: the machine's memory",
			files:   fstest.MapFS{"proc/meminfo": meminfo(32 * gib)},
			offHeap: 2 * gib,
			want:    MemoryLimit{Bytes: 32*gib/10*8 - 2*gib, Source: "machine", Available: 32 * gib},
		},
		{
			name: "off-heap memory larger than the container: a fifth stays for Go",
			files: fstest.MapFS{
				"proc/meminfo":             meminfo(16 * gib),
				"sys/fs/cgroup/memory.max": {Data: []byte("1073741824\n")},
			},
			offHeap: 2 * gib,
			want:    MemoryLimit{Bytes: gib / 5, Source: "cgroup", Available: gib},
		},
		{
			name:       "GOMEMLIMIT wins",
			gomemlimit: "750MiB",
			files:      fstest.MapFS{"proc/meminfo": meminfo(32 * gib)},
			want:       MemoryLimit{Source: "GOMEMLIMIT"},
		},
		{name: "nothing known", files: fstest.MapFS{}, want: MemoryLimit{}},
	} {
		if got := decideMemoryLimit(tc.gomemlimit, tc.files, tc.offHeap); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{
		"1GB": 1e9, "1gb": 1e9, "512MiB": 512 << 20, "4 GB": 4e9, "1.5GiB": 3 << 29, "1024": 1024, "10KB": 10e3,
	} {
		if got, ok := ParseByteSize(in); !ok || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "80%", "lots", "1XB", "-1GB"} {
		if got, ok := ParseByteSize(in); ok {
			t.Errorf("ParseByteSize(%q) = %d, want refused", in, got)
		}
	}
}
