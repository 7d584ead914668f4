package mongox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
)

// DefaultTimeout bounds the initial connect when ConnectOptions.Timeout is
// zero.
const DefaultTimeout = 10 * time.Second

// DefaultServerSelectionTimeout is how long an operation waits for a
// usable server when ConnectOptions.ServerSelectionTimeout is zero. The
// driver's own default, 30s, would hold every request of an outage that
// long before its 503.
const DefaultServerSelectionTimeout = 2 * time.Second

// ConnectOptions tunes Connect. The zero value is usable.
type ConnectOptions struct {
	// AppName is sent to the server and shows in its logs and currentOp.
	AppName string
	// Timeout bounds the TCP connect and the startup, during which the
	// server is pinged until it answers; zero means DefaultTimeout.
	Timeout time.Duration
	// ServerSelectionTimeout bounds how long each operation waits for a
	// usable server; zero means DefaultServerSelectionTimeout.
	ServerSelectionTimeout time.Duration
	// Logger receives one line when connected; nil discards it.
	Logger *slog.Logger
}

// Connect opens a client for uri, pings the primary and returns the client
// with its database. A failed ping disconnects the client again, so on error
// nothing is left open. The returned error never contains the URI's password
// (or other secret URI options); it still wraps the driver error, so
// IsUnavailable works on it.
func Connect(ctx context.Context, uri, database string, opts ConnectOptions) (*mongo.Client, *mongo.Database, error) {
	if database == "" {
		return nil, nil, errors.New("mongox: database name is empty")
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	selection := opts.ServerSelectionTimeout
	if selection <= 0 {
		selection = DefaultServerSelectionTimeout
	}
	secrets := uriSecrets(uri)

	co := options.Client().ApplyURI(uri).
		SetServerSelectionTimeout(selection).
		SetConnectTimeout(timeout)
	if opts.AppName != "" {
		co.SetAppName(opts.AppName)
	}
	client, err := mongo.Connect(co)
	if err != nil {
		return nil, nil, scrubbed("mongox: connect to "+redactURI(uri), err, secrets)
	}

	pingCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := pingUntilUp(pingCtx, client); err != nil {
		// Disconnect with a fresh short context: ctx may be the one that
		// just expired, and we must not leak the client's monitors.
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer dcancel()
		_ = client.Disconnect(dctx)
		return nil, nil, scrubbed("mongox: ping "+redactURI(uri), err, secrets)
	}

	if opts.Logger != nil {
		opts.Logger.LogAttrs(ctx, slog.LevelInfo, "mongodb connected",
			slog.String("uri", redactURI(uri)), slog.String("database", database))
	}
	return client, client.Database(database), nil
}

// pingUntilUp pings the primary until it answers or ctx ends: one ping
// gives up after the (short) server selection timeout, while a database
// that starts next to the service may take longer to accept connections.
func pingUntilUp(ctx context.Context, client *mongo.Client) error {
	for {
		err := client.Ping(ctx, readpref.Primary())
		if err == nil || ctx.Err() != nil || !IsUnavailable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// redactURI returns uri with its password replaced and its query dropped, so
// it can name the server in logs and errors. Unparseable input is reduced to
// its scheme.
func redactURI(uri string) string {
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok {
		return "<invalid uri>"
	}
	rest, _, _ = strings.Cut(rest, "?")
	authority, path, hasPath := strings.Cut(rest, "/")
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		user, _, hasPass := strings.Cut(authority[:at], ":")
		if hasPass {
			user += ":xxxxx"
		}
		authority = user + "@" + authority[at+1:]
	}
	out := scheme + "://" + authority
	if hasPath {
		out += "/" + path
	}
	return out
}

// uriSecrets lists the strings of uri that must never be shown: the password
// (raw and percent-decoded) and the values of query options whose names look
// secret (tlsCertificateKeyFilePassword, authMechanismProperties tokens, …).
func uriSecrets(uri string) []string {
	var out []string
	add := func(s string) {
		if s != "" {
			out = append(out, s)
		}
	}
	_, rest, ok := strings.Cut(uri, "://")
	if !ok {
		add(uri)
		return out
	}
	rest, query, _ := strings.Cut(rest, "?")
	authority, _, _ := strings.Cut(rest, "/")
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		if _, pass, ok := strings.Cut(authority[:at], ":"); ok {
			add(pass)
			if dec, err := url.PathUnescape(pass); err == nil && dec != pass {
				add(dec)
			}
		}
	}
	for _, kv := range strings.Split(query, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if looksSecret(k) {
			add(v)
			if dec, err := url.QueryUnescape(v); err == nil && dec != v {
				add(dec)
			}
		}
	}
	return out
}

func looksSecret(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"password", "secret", "token", "key", "authmechanismproperties"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// scrubbedError keeps the driver error for errors.Is/As while its text has
// every URI secret replaced.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

func scrubbed(prefix string, err error, secrets []string) error {
	msg := fmt.Sprintf("%s: %v", prefix, err)
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, "xxxxx")
	}
	return &scrubbedError{msg: msg, err: err}
}
