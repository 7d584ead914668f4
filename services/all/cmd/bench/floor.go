package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

//go:embed floorapp.py
var floorApp []byte

// floorInstall is how the FastAPI floor's packages are installed (README,
// set-up; .ci/run does it).
const floorInstall = "apt-get install -y python3-fastapi python3-uvicorn"

// floorServer is the FastAPI floor: Debian's python3-fastapi and
// python3-uvicorn serving the same envelopes as the routes measured.
type floorServer struct{ python string }

// findFloor finds a Python that imports fastapi and uvicorn: the one on
// PATH, else Debian's (a pyenv or venv python3 on PATH does not see the
// system's packages).
func findFloor(ctx context.Context) (*floorServer, error) {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.CommandContext(ctx, py, "-c", "import fastapi, uvicorn").Run() == nil {
			return &floorServer{python: py}, nil
		}
	}
	return nil, fmt.Errorf("the FastAPI floor needs Debian's python3-fastapi and python3-uvicorn, which no python3 here imports: %s", floorInstall)
}

// floorStartTimeout bounds uvicorn's start.
const floorStartTimeout = 30 * time.Second

// start runs uvicorn on a free loopback port in dir with one route per
// path of bodies and returns its base URL and how to stop it.
func (f *floorServer) start(ctx context.Context, dir string, bodies map[string]json.RawMessage) (string, func() error, error) {
	b, err := json.Marshal(bodies)
	if err != nil {
		return "", nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "floorapp.py"), floorApp, 0o600); err != nil {
		return "", nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "bodies.json"), b, 0o600); err != nil {
		return "", nil, err
	}
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	logFile := filepath.Join(dir, "uvicorn.log")
	logs, err := os.Create(logFile)
	if err != nil {
		return "", nil, err
	}
	defer logs.Close() // the child holds its own copy
	cmd := exec.Command(f.python, "-m", "uvicorn", "floorapp:app", "--app-dir", dir,
		"--host", "127.0.0.1", "--port", strconv.Itoa(port), "--log-level", "warning", "--no-access-log")
	cmd.Env = append(os.Environ(), "BENCH_FLOOR_BODIES="+filepath.Join(dir, "bodies.json"))
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start uvicorn: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
			return nil
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			return errors.New("uvicorn did not stop on SIGTERM within 10 s")
		}
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	var probe string
	for path := range bodies {
		probe = base + path
		break
	}
	deadline := time.Now().Add(floorStartTimeout)
	for {
		if resp, err := http.Get(probe); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, stop, nil
			}
		}
		select {
		case err := <-exited:
			exited <- err
			return "", nil, fmt.Errorf("uvicorn exited while starting (%v): %s", err, tail(logFile))
		case <-ctx.Done():
			_ = stop()
			return "", nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = stop()
			return "", nil, fmt.Errorf("uvicorn did not answer within %s: %s", floorStartTimeout, tail(logFile))
		}
	}
}

// tail is the end of a log file, for an error.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}

// freePort is a loopback port nothing listens on a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
