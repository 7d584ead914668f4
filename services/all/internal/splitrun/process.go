package splitrun

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long Stop waits after SIGTERM before it kills: a
// service drains NATS for up to 10 s and FerretDB lets connections finish
// for 3 s.
const stopGrace = 20 * time.Second

// readyTimeout bounds how long Start waits for a process to serve.
const readyTimeout = 90 * time.Second

// Process is one program of the system. Start, Stop and Kill may be called
// any number of times, in any order, from any goroutine: the fault tests
// stop and kill parts of a running system and start them again.
type Process struct {
	name    string
	path    string
	args    []string
	env     []string
	dir     string
	logPath string
	console io.Writer
	// ready answers nil once the process serves.
	ready func(context.Context) error
	// unexpected receives an exit that no Stop or Kill asked for.
	unexpected chan<- error

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	stopping bool
	out      *lineWriter
}

// Pid is the running process's id, 0 when it is not running: a restart
// changes it.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Start runs the program and returns once it serves (its readiness check
// passes), or with an error naming its last output lines when it exits
// first or ctx ends. Starting a running process is an error.
func (p *Process) Start(ctx context.Context) error {
	p.mu.Lock()
	if p.cmd != nil {
		p.mu.Unlock()
		return fmt.Errorf("%s is already running", p.name)
	}
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		p.mu.Unlock()
		return fmt.Errorf("%s: log file: %w", p.name, err)
	}
	out := &lineWriter{prefix: p.name, file: logFile, console: p.console}
	cmd := exec.Command(p.path, p.args...)
	cmd.Env, cmd.Dir = p.env, p.dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		logFile.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.stopping, p.out = cmd, done, false, out
	p.mu.Unlock()
	go p.wait(cmd, done, logFile)
	return p.waitReady(ctx, done)
}

// wait reaps the process and reports an exit nobody asked for.
func (p *Process) wait(cmd *exec.Cmd, done chan struct{}, logFile *os.File) {
	err := cmd.Wait()
	logFile.Close()
	p.mu.Lock()
	asked := p.stopping
	p.cmd = nil
	p.mu.Unlock()
	close(done)
	if !asked {
		select {
		case p.unexpected <- fmt.Errorf("%s exited (%v); its last lines:\n%s", p.name, err, p.Tail()):
		default:
		}
	}
}

func (p *Process) waitReady(ctx context.Context, done <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		checkCtx, cancelCheck := context.WithTimeout(ctx, time.Second)
		err := p.ready(checkCtx)
		cancelCheck()
		if err == nil {
			return nil
		}
		// Nothing announces readiness across a process boundary; poll.
		select {
		case <-done:
			return fmt.Errorf("%s exited before it served; its last lines:\n%s", p.name, p.Tail())
		case <-ctx.Done():
			return fmt.Errorf("%s not serving (%v): %w; its last lines:\n%s", p.name, err, ctx.Err(), p.Tail())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// Kill ends the process with SIGKILL, as a crash or the OOM killer would,
// and waits until it is gone. A stopped process is left as it is.
func (p *Process) Kill() {
	p.signal(syscall.SIGKILL, 0)
}

// Stop asks the process to shut down (SIGTERM), kills it when it has not
// exited after a grace period, and waits until it is gone.
func (p *Process) Stop() {
	p.signal(syscall.SIGTERM, stopGrace)
}

func (p *Process) signal(sig syscall.Signal, grace time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	if cmd != nil {
		p.stopping = true
	}
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	if sig == syscall.SIGKILL {
		<-done
		return
	}
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Tail is the process's last lines of output, for error messages.
func (p *Process) Tail() string {
	p.mu.Lock()
	out := p.out
	p.mu.Unlock()
	if out == nil {
		return ""
	}
	return out.tail()
}

// tailLines is how many lines of output a process keeps for Tail.
const tailLines = 30

// lineWriter copies a process's output to its log file and, with a name
// in front of each line, to the console; it keeps the last lines for
// error messages. exec calls Write from one goroutine at a time when
// stdout and stderr are the same writer; the mutex is for tail.
type lineWriter struct {
	prefix  string
	file    io.Writer
	console io.Writer

	mu      sync.Mutex
	partial []byte
	last    []string
}

func (w *lineWriter) Write(b []byte) (int, error) {
	_, _ = w.file.Write(b)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, b...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := string(w.partial[:i])
		w.partial = w.partial[i+1:]
		if w.console != nil {
			fmt.Fprintf(w.console, "%-12s | %s\n", w.prefix, line)
		}
		w.last = append(w.last, line)
		if len(w.last) > tailLines {
			w.last = w.last[1:]
		}
	}
	return len(b), nil
}

func (w *lineWriter) tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(append(append([]string{}, w.last...), string(w.partial)), "\n")
}
