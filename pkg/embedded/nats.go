package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// NATSOptions configures StartNATS.
type NATSOptions struct {
	// Dir is the JetStream store directory. It must be absolute.
	Dir string
	// Host is the client listen host; default 127.0.0.1.
	Host string
	// Port is the client port; 0 or -1 picks a random free port, so an
	// embedded server never collides with a NATS already on 4222.
	Port int
	// ServerName names the server (it shows in JetStream metadata);
	// default "embedded".
	ServerName string
	// Token, when set, is required from every client (the user part of a
	// nats://<token>@host:port URL, see ClientURLWithToken). Without it any
	// local process may connect and act as any service.
	Token string
	// Logger receives the server's warnings and errors. Nil discards all
	// server logging.
	Logger *slog.Logger
}

// NATSServer is a running in-process nats-server with JetStream.
type NATSServer struct {
	srv   *server.Server
	token string
}

// StartNATS starts a nats-server with JetStream stored in opts.Dir and
// returns once it accepts client connections.
func StartNATS(opts NATSOptions) (*NATSServer, error) {
	if opts.Dir == "" || !filepath.IsAbs(opts.Dir) {
		return nil, fmt.Errorf("start nats: store dir %q must be an absolute path", opts.Dir)
	}
	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	port := opts.Port
	if port == 0 {
		// nats-server reads port 0 as "default 4222"; we mean "any free port".
		port = server.RANDOM_PORT
	}
	name := opts.ServerName
	if name == "" {
		name = "embedded"
	}
	srv, err := server.NewServer(&server.Options{
		ServerName:    name,
		Host:          host,
		Port:          port,
		Authorization: opts.Token,
		JetStream:     true,
		StoreDir:      opts.Dir,
		NoSigs:        true,
		NoLog:         opts.Logger == nil,
		// No HTTP monitoring, cluster, leafnode or gateway listeners: the
		// embedded server is a single local node.
		DisableJetStreamBanner: true,
	})
	if err != nil {
		return nil, fmt.Errorf("start nats: configure server: %w", err)
	}
	if opts.Logger != nil {
		srv.SetLoggerV2(slogNATSLogger{log: opts.Logger}, false, false, false)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, errors.New("start nats: server not ready for connections after 10s")
	}
	return &NATSServer{srv: srv, token: opts.Token}, nil
}

// ClientURL is the nats:// URL clients connect to, without credentials.
func (s *NATSServer) ClientURL() string { return s.srv.ClientURL() }

// ClientURLWithToken is ClientURL carrying the server's token, the form
// natsx.Connect and the nats CLI (--server) take; ClientURL when there is
// no token. It is a secret.
func (s *NATSServer) ClientURLWithToken() string {
	if s.token == "" {
		return s.ClientURL()
	}
	u, err := url.Parse(s.ClientURL())
	if err != nil {
		return s.ClientURL()
	}
	u.User = url.User(s.token)
	return u.String()
}

// Port is the client port the server listens on; pass it back in
// NATSOptions.Port to restart on the same address.
func (s *NATSServer) Port() int {
	if tcp, ok := s.srv.Addr().(*net.TCPAddr); ok {
		return tcp.Port
	}
	return 0
}

// Shutdown stops the server and waits until it has stopped, so JetStream
// files are flushed and the port is free when it returns.
func (s *NATSServer) Shutdown() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}

// slogNATSLogger forwards nats-server's warnings and errors to slog.
// Notices, debug and trace lines are dropped: they are start-up chatter.
type slogNATSLogger struct{ log *slog.Logger }

func (l slogNATSLogger) Noticef(string, ...any) {}
func (l slogNATSLogger) Debugf(string, ...any)  {}
func (l slogNATSLogger) Tracef(string, ...any)  {}
func (l slogNATSLogger) Warnf(format string, v ...any) {
	l.log.Log(context.Background(), slog.LevelWarn, fmt.Sprintf(format, v...), "component", "nats-server")
}
func (l slogNATSLogger) Errorf(format string, v ...any) {
	l.log.Log(context.Background(), slog.LevelError, fmt.Sprintf(format, v...), "component", "nats-server")
}
func (l slogNATSLogger) Fatalf(format string, v ...any) {
	l.log.Log(context.Background(), slog.LevelError, fmt.Sprintf(format, v...), "component", "nats-server", "fatal", true)
}
