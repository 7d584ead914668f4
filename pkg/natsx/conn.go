package natsx

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// ConnectOptions configures Connect.
type ConnectOptions struct {
	// Name identifies the connection on the server (nats server report
	// connections); use the service name.
	Name string
	// CredsFile is a NATS .creds file (user JWT and nkey seed); empty means
	// no credentials file.
	CredsFile string
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
}

const (
	reconnectBaseDelay = 100 * time.Millisecond
	reconnectMaxDelay  = 2 * time.Second
)

// Connect connects to the NATS server(s) in url (comma-separated) and keeps
// reconnecting forever with a jittered exponential backoff capped at 2s.
// Disconnects, reconnects, closure and async errors are logged; credentials
// in the URL are never logged or put into the returned error.
//
// The first connection attempt is not retried in the background
// (RetryOnFailedConnect stays off): a service that cannot reach NATS at
// startup fails with an error instead of reporting itself started while every
// request it should serve is lost. Its supervisor (compose restart policy,
// Kubernetes) restarts it with backoff; once connected, an outage is ridden
// out by reconnecting.
//
// The reconnect buffer keeps its default: a JetStream publish made during a
// short outage is sent on reconnect and still acknowledged, and one whose
// caller gave up meanwhile is harmless, since every publish carries a
// de-duplication id (Publish) and consumers skip work already done.
// Requests must not wait in it, so Client.Request refuses them while the
// connection is down.
func Connect(url string, opts ConnectOptions) (*nats.Conn, error) {
	log := loggerOrDiscard(opts.Logger)
	servers, err := checkURLs(url)
	if err != nil {
		return nil, err
	}
	natsOpts := []nats.Option{
		nats.Name(opts.Name),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(reconnectDelay),
		// The default 2m ping interval lets a half-open TCP connection go
		// unnoticed for minutes; 20s x 3 notices it within about a minute.
		nats.PingInterval(20 * time.Second),
		nats.MaxPingsOutstanding(3),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "error", err)
				return
			}
			log.Info("nats disconnected")
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", "server", nc.ConnectedUrlRedacted())
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Debug("nats reconnect attempt failed", "error", err)
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			if err := nc.LastError(); err != nil {
				log.Warn("nats connection closed", "error", err)
				return
			}
			log.Info("nats connection closed")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				log.Error("nats async error", "subject", sub.Subject, "error", err)
				return
			}
			log.Error("nats async error", "error", err)
		}),
		nats.LameDuckModeHandler(func(nc *nats.Conn) {
			log.Info("nats server entering lame duck mode, will move to another server", "server", nc.ConnectedUrlRedacted())
		}),
	}
	if opts.CredsFile != "" {
		natsOpts = append(natsOpts, nats.UserCredentials(opts.CredsFile))
	}
	nc, err := nats.Connect(url, natsOpts...)
	if err != nil {
		return nil, redact(fmt.Errorf("connect to nats at %s: %w", redactURLs(servers), err), servers)
	}
	log.Info("nats connected", "server", nc.ConnectedUrlRedacted())
	return nc, nil
}

// reconnectDelay is the wait before the next pass over the server list:
// exponential from 100ms, capped at 2s, with jitter so that every service
// does not hit a restarted server in the same millisecond.
func reconnectDelay(attempts int) time.Duration {
	d := reconnectMaxDelay
	if attempts < 5 {
		d = reconnectBaseDelay << max(attempts, 0)
	}
	d = min(d, reconnectMaxDelay)
	// Half fixed, half random: never zero, never above the cap.
	return d/2 + rand.N(d/2+1)
}

// Drain drains nc (subscriptions finish their pending messages, buffered
// publishes are flushed) and waits until the connection is closed, at most
// timeout; after that it closes the connection and reports it.
func Drain(nc *nats.Conn, timeout time.Duration) error {
	if nc.IsClosed() {
		return nil
	}
	closed := nc.StatusChanged(nats.CLOSED)
	defer nc.RemoveStatusListener(closed)
	if err := nc.Drain(); err != nil {
		if errors.Is(err, nats.ErrConnectionClosed) {
			return nil
		}
		// Drain closes a reconnecting connection itself: nothing can be
		// flushed to a server that is not there.
		return fmt.Errorf("drain nats connection: %w", err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-closed:
		return nil
	case <-timer.C:
		nc.Close()
		return fmt.Errorf("drain nats connection: not closed after %s, closed it", timeout)
	}
}

// checkURLs parses the comma-separated server list up front so that a
// malformed URL is reported without echoing it: url.Parse errors quote the
// whole URL, password included.
func checkURLs(raw string) ([]*url.URL, error) {
	var servers []*url.URL
	for i, s := range strings.Split(raw, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "://") {
			s = "nats://" + s
		}
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("connect to nats: server URL number %d is malformed", i+1)
		}
		servers = append(servers, u)
	}
	if len(servers) == 0 {
		return nil, errors.New("connect to nats: no server URL given")
	}
	return servers, nil
}

func redactURLs(servers []*url.URL) string {
	out := make([]string, len(servers))
	for i, u := range servers {
		out[i] = u.Redacted()
		if u.User != nil {
			if _, hasPassword := u.User.Password(); !hasPassword {
				// A user-only URL carries a token; url.Redacted keeps it.
				c := *u
				c.User = url.User("xxxxx")
				out[i] = c.String()
			}
		}
	}
	return strings.Join(out, ",")
}

// redact hides any user info of servers that made it into err's text while
// keeping err inspectable with errors.Is/As.
func redact(err error, servers []*url.URL) error {
	msg := err.Error()
	changed := false
	for _, u := range servers {
		if u.User == nil {
			continue
		}
		// The password, or the token of a user-only URL; a user name is
		// not a secret.
		secrets := []string{u.User.String()}
		if p, ok := u.User.Password(); ok {
			secrets = append(secrets, p)
		} else {
			secrets = append(secrets, u.User.Username())
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(msg, s) {
				msg = strings.ReplaceAll(msg, s, "xxxxx")
				changed = true
			}
		}
	}
	if !changed {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func loggerOrDiscard(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}
