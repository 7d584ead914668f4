//go:build linux

package demote

import (
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// threadNice is the nice value of the calling thread, from the kernel.
func threadNice(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/thread-self/stat")
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name, which ends at the last ')': state is
	// field 3, nice field 19.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	n, err := strconv.Atoi(fields[19-3])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func spin(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
	}
}

func TestLongWorkIsDemotedAndShortWorkIsNot(t *testing.T) {
	start := threadNice(t)
	var short, long int
	if err := After(time.Second, func() error { short = threadNice(t); return nil }); err != nil {
		t.Fatal(err)
	}
	if short != start {
		t.Fatalf("work shorter than the delay ran at nice %d, the process's is %d", short, start)
	}
	if err := After(100*time.Millisecond, func() error {
		spin(400 * time.Millisecond)
		long = threadNice(t)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if long != Nice {
		t.Fatalf("work running past the delay is at nice %d, want %d", long, Nice)
	}
	// The demoted thread is not reused: the next work runs at the normal
	// priority.
	for range 3 {
		var again int
		if err := After(time.Second, func() error { again = threadNice(t); return nil }); err != nil {
			t.Fatal(err)
		}
		if again != start {
			t.Fatalf("work after a demoted one ran at nice %d, want %d", again, start)
		}
	}
	// The caller's own thread is as it was.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if n := threadNice(t); n != start {
		t.Fatalf("the caller's thread is at nice %d after the work, want %d", n, start)
	}
}

func TestWaitingIsNotRunning(t *testing.T) {
	start := threadNice(t)
	// Work that waits (for a core others hold, for a lock) past the delay
	// has not used the delay's CPU time: it keeps its priority.
	release := make(chan struct{})
	go func() { spin(400 * time.Millisecond); close(release) }()
	var waited int
	if err := After(100*time.Millisecond, func() error {
		<-release
		waited = threadNice(t)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if waited != start {
		t.Fatalf("work that waited past the delay without running is at nice %d, want %d", waited, start)
	}
	// Once it has run for the delay as well, it is demoted.
	release = make(chan struct{})
	go func() { spin(300 * time.Millisecond); close(release) }()
	var ran int
	if err := After(100*time.Millisecond, func() error {
		<-release
		spin(400 * time.Millisecond)
		ran = threadNice(t)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if ran != Nice {
		t.Fatalf("work that waited, then ran past the delay is at nice %d, want %d", ran, Nice)
	}
}

func TestErrorsAndPanicsReachTheCaller(t *testing.T) {
	want := errors.New("statement failed")
	if err := After(time.Second, func() error { return want }); !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	defer func() {
		p := recover()
		if p == nil || !strings.Contains(p.(string), "boom") {
			t.Fatalf("recovered %v, want the work's panic", p)
		}
	}()
	_ = After(time.Second, func() error { panic("boom") })
	t.Fatal("After returned after a panic")
}
