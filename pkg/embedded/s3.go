package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/versity/versitygw/auth"
	"github.com/versity/versitygw/backend/meta"
	"github.com/versity/versitygw/backend/posix"
	"github.com/versity/versitygw/embedgw"
)

// S3Options configures StartS3.
type S3Options struct {
	// RootDir holds the buckets (one directory each) and objects. It must
	// be absolute; it is created if missing.
	RootDir string
	// SidecarDir holds object metadata (content type, user metadata, ETags)
	// as plain files, so no extended-attribute support is needed from the
	// file system. It must be absolute and outside RootDir; it is created if
	// missing.
	SidecarDir string
	// Addr is the listen address; default 127.0.0.1:0 (a free port).
	Addr string
	// AccessKey and SecretKey are the root credentials; both required.
	AccessKey, SecretKey string
}

// s3Running guards the process-wide gateway. Versity refuses a second
// gateway itself, but only after posix.New has already moved the working
// directory to the new root, which would break the running one; so the
// refusal has to happen before that.
var s3Running atomic.Bool

// S3Server is a running in-process Versity S3 gateway over a POSIX
// directory.
type S3Server struct {
	endpoint string
	cancel   context.CancelFunc
	done     chan error
}

// StartS3 starts a Versity S3 gateway and returns once its port accepts
// connections. It runs until ctx is cancelled or Stop is called.
//
// WARNING, process-wide effects (Versity v1.8.0 limitations):
//
//   - StartS3 changes the working directory of the whole process to
//     RootDir, and the gateway keeps relying on that: its POSIX backend
//     addresses buckets and objects by paths relative to the working
//     directory. Do not change the directory back while the gateway runs,
//     and use only absolute paths for everything else in the process (NATS
//     store, FerretDB files, test data, config files).
//   - Only one gateway can run per process; a second StartS3 fails while
//     the first is running. After Stop returns, StartS3 may be called again
//     (on the same RootDir, data and metadata are kept).
func StartS3(ctx context.Context, opts S3Options) (*S3Server, error) {
	if opts.AccessKey == "" || opts.SecretKey == "" {
		return nil, errors.New("start s3: access key and secret key are required")
	}
	if err := checkS3Dirs(opts.RootDir, opts.SidecarDir); err != nil {
		return nil, fmt.Errorf("start s3: %w", err)
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	addr, err := freeTCPAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("start s3: %w", err)
	}

	if !s3Running.CompareAndSwap(false, true) {
		return nil, errors.New("start s3: a gateway is already running in this process (Versity allows one)")
	}
	started := false
	defer func() {
		if !started {
			s3Running.Store(false)
		}
	}()

	sidecar, err := meta.NewSideCar(opts.SidecarDir)
	if err != nil {
		return nil, fmt.Errorf("start s3: sidecar metadata in %s: %w", opts.SidecarDir, err)
	}
	// PosixOpts.SideCarDir is left empty on purpose: the backend only uses
	// it to validate the directory (done above) and to print a line to
	// stdout. The metadata store itself is the sidecar passed here.
	be, err := posix.New(opts.RootDir, sidecar, posix.PosixOpts{})
	if err != nil {
		return nil, fmt.Errorf("start s3: posix backend in %s: %w", opts.RootDir, err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	s := &S3Server{endpoint: addr, cancel: cancel, done: make(chan error, 1)}
	go func() {
		err := embedgw.RunVersityGW(runCtx, be, &embedgw.Config{
			RootUserAccess:    opts.AccessKey,
			RootUserSecret:    opts.SecretKey,
			Ports:             []string{addr},
			MaxConnections:    250,
			MaxRequests:       100,
			MultipartMaxParts: 10000,
			KeepAlive:         true,
			// Passing the single-account IAM ourselves is what Versity does
			// by default, minus the line it prints to stdout.
			IAMService: auth.NewIAMServiceSingle(auth.Account{
				Access: opts.AccessKey,
				Secret: opts.SecretKey,
				Role:   auth.RoleAdmin,
			}),
			// Quiet drops the banner and the per-request access log; the
			// debug logger stays at its default, silent.
			Quiet: true,
		})
		if err == nil {
			err = errors.New("s3 gateway stopped")
		}
		s3Running.Store(false)
		s.done <- err
		close(s.done)
	}()
	started = true
	if err := waitTCP(addr, 10*time.Second, s.done); err != nil {
		s.Stop()
		return nil, fmt.Errorf("start s3: %w", err)
	}
	return s, nil
}

// Endpoint is the host:port of the S3 API (plain HTTP, path-style).
func (s *S3Server) Endpoint() string { return s.endpoint }

// Stop shuts the gateway down and waits until it has stopped. It is safe
// to call more than once.
func (s *S3Server) Stop() {
	s.cancel()
	for range s.done {
	}
}

// checkS3Dirs creates the object and metadata directories and refuses a
// layout the gateway cannot work with.
func checkS3Dirs(root, sidecar string) error {
	for _, d := range []string{root, sidecar} {
		if d == "" || !filepath.IsAbs(d) {
			return fmt.Errorf("directory %q must be an absolute path", d)
		}
	}
	rel, err := filepath.Rel(filepath.Clean(root), filepath.Clean(sidecar))
	if err != nil {
		return fmt.Errorf("compare %s and %s: %w", root, sidecar, err)
	}
	if rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("sidecar directory %s must be outside the root directory %s", sidecar, root)
	}
	for _, d := range []string{root, sidecar} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	return nil
}
