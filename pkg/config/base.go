package config

import (
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Base is what every service reads: the process, NATS, MongoDB, S3, Redis,
// Sentry, logging and the data directory. What one service alone reads
// (Clerk, DuckDB, the encryption keys…) is in that service's Settings.
// Service structs embed Base; its sub-structs are embedded too, so
// cfg.Mongo.URI() and cfg.IsDev() read naturally; fields with the same name
// in two sub-structs (Host, Port…) must be reached through the sub-struct.
type Base struct {
	App
	Mongo
	Redis
	MinIO
	Sentry

	CORSOrigins []string `env:"CORS_ORIGINS" envDefault:"http://localhost:5173,http://127.0.0.1:5173"`
	NATSURL     string   `env:"NATS_URL" envDefault:"nats://127.0.0.1:4222"`
	NATSCreds   string   `env:"NATS_CREDS"` // path to a .creds file
	DataDir     string   `env:"DATA_DIR" envDefault:"./data"`
	LogLevel    string   `env:"LOG_LEVEL" envDefault:"info"` // debug|info|warn|error
	LogFile     string   `env:"LOG_FILE"`                    // optional; rotated by size
	// OpsAddr is where a service run alone serves /metrics and /health
	// (host:port); empty serves neither. services/all ignores it: its
	// gateway port serves both.
	OpsAddr string `env:"OPS_ADDR"`
}

// App is the process itself and the HTTP listener of the gateway.
type App struct {
	Name  string `env:"APP_NAME" envDefault:"Nonefinity"`
	Env   string `env:"APP_ENV" envDefault:"dev"` // dev|prod
	Host  string `env:"APP_HOST"`                 // empty: see ListenHost
	Port  int    `env:"APP_PORT" envDefault:"8000"`
	Debug bool   `env:"APP_DEBUG" envDefault:"false"`
}

// IsDev reports APP_ENV=dev.
func (a App) IsDev() bool { return a.Env == "dev" }

// IsProd reports APP_ENV=prod.
func (a App) IsProd() bool { return a.Env == "prod" }

// ListenHost is where the gateway listens: APP_HOST when set, otherwise
// loopback in dev (dev auth hands out tokens to whoever asks, so a plain dev
// run must not be reachable from the network) and every interface in prod.
func (a App) ListenHost() string {
	switch {
	case strings.TrimSpace(a.Host) != "":
		return strings.TrimSpace(a.Host)
	case a.IsDev():
		return "127.0.0.1"
	}
	return "0.0.0.0"
}

// Mongo locates the MongoDB deployment. MONGO_URI, when set, wins over the
// separate host/port/user/password variables.
type Mongo struct {
	Host     string `env:"MONGO_HOST" envDefault:"localhost"`
	Port     int    `env:"MONGO_PORT" envDefault:"27017"`
	DB       string `env:"MONGO_DB" envDefault:"nonefinity"`
	User     string `env:"MONGO_USER"`
	Password string `env:"MONGO_PWD"`
	RawURI   string `env:"MONGO_URI"`
	// ServerSelectionTimeout is how long an operation waits for a usable
	// server before it fails (503).
	ServerSelectionTimeout Duration `env:"MONGO_SERVER_SELECTION_TIMEOUT" envDefault:"2s"`
}

// URI is MONGO_URI when set, otherwise mongodb://user:pwd@host:port/ with the
// user and password percent-encoded (the driver rejects a raw '@', ':' or '/'
// in them).
func (m Mongo) URI() string {
	if m.RawURI != "" {
		return m.RawURI
	}
	var b strings.Builder
	b.WriteString("mongodb://")
	if m.User != "" {
		b.WriteString(escapeUserinfo(m.User))
		if m.Password != "" {
			b.WriteByte(':')
			b.WriteString(escapeUserinfo(m.Password))
		}
		b.WriteByte('@')
	}
	b.WriteString(net.JoinHostPort(m.Host, strconv.Itoa(m.Port)))
	b.WriteByte('/')
	return b.String()
}

// escapeUserinfo percent-encodes everything but unreserved characters. The
// driver decodes userinfo with url.PathUnescape, so a space must become %20,
// not the '+' QueryEscape produces.
func escapeUserinfo(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// Database is the database name (MONGO_DB).
func (m Mongo) Database() string { return m.DB }

// Redis locates the Redis server. REDIS_URL, when set, wins.
type Redis struct {
	Host     string `env:"REDIS_HOST"`
	Port     int    `env:"REDIS_PORT" envDefault:"6379"`
	Password string `env:"REDIS_PWD"`
	URL      string `env:"REDIS_URL"`
}

// Enabled reports whether any Redis is configured (REDIS_URL or REDIS_HOST).
func (r Redis) Enabled() bool { return r.URL != "" || r.Host != "" }

// Options returns go-redis options from REDIS_URL, or from host, port and
// password. The error names the variable only: the URL may hold a password.
func (r Redis) Options() (*redis.Options, error) {
	if r.URL != "" {
		opts, err := redis.ParseURL(r.URL)
		if err != nil {
			return nil, VarError{Var: "REDIS_URL", Problem: "must be a redis:// or rediss:// URL"}
		}
		return opts, nil
	}
	if r.Host == "" {
		return nil, VarError{Var: "REDIS_HOST", Problem: "required when REDIS_URL is not set"}
	}
	return &redis.Options{
		Addr:     net.JoinHostPort(r.Host, strconv.Itoa(r.Port)),
		Password: r.Password,
	}, nil
}

// MinIO is the S3-compatible object store.
type MinIO struct {
	URL       string `env:"MINIO_URL"` // http://localhost:9000, https://s3.example.com or localhost:9000
	AccessKey string `env:"MINIO_ACCESS_KEY"`
	SecretKey string `env:"MINIO_SECRET_KEY"`
	Bucket    string `env:"MINIO_BUCKET" envDefault:"nonefinity"`
	Region    string `env:"MINIO_REGION" envDefault:"us-east-1"`
}

// Endpoint splits MINIO_URL into the host:port minio-go wants and whether to
// use TLS. A URL without a scheme is plain HTTP, as in the original service.
func (m MinIO) Endpoint() (hostport string, secure bool, err error) {
	invalid := VarError{Var: "MINIO_URL", Problem: "must be host:port or an http(s):// URL without a path"}
	raw := strings.TrimSpace(m.URL)
	if raw == "" {
		return "", false, VarError{Var: "MINIO_URL", Problem: "required"}
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", false, invalid
	}
	switch u.Scheme {
	case "http":
		return u.Host, false, nil
	case "https":
		return u.Host, true, nil
	}
	return "", false, invalid
}

// Sentry configures error reporting; an empty DSN turns it off.
type Sentry struct {
	DSN                string  `env:"SENTRY_DSN"`
	TracesSampleRate   float64 `env:"SENTRY_TRACES_SAMPLE_RATE" envDefault:"0.1"`
	ProfilesSampleRate float64 `env:"SENTRY_PROFILES_SAMPLE_RATE" envDefault:"0"`
	SendDefaultPII     bool    `env:"SENTRY_SEND_DEFAULT_PII" envDefault:"false"`
}

// Validate checks the shared rules. A service's Config composes them with
// its Settings' own:
//
//	func (c Config) Validate() error {
//		return errors.Join(c.Base.Validate(), c.Settings.Validate())
//	}
//
// (Config must declare it: Base and Settings both have Validate at the same
// depth, so Go promotes neither.) Load prints the combined problems on one
// line either way.
func (b Base) Validate() error {
	var errs Problems
	bad := errs.Add

	if b.App.Env != "dev" && b.App.Env != "prod" {
		bad("APP_ENV", "must be dev or prod")
	}
	// 0 lets the OS pick a free port, which tests of the gateway rely on.
	if b.App.Port < 0 || b.App.Port > 65535 {
		bad("APP_PORT", "must be between 0 and 65535")
	}
	if b.Mongo.Port < 1 || b.Mongo.Port > 65535 {
		bad("MONGO_PORT", "must be between 1 and 65535")
	}
	if b.Mongo.ServerSelectionTimeout <= 0 || b.Mongo.ServerSelectionTimeout.Duration() > time.Minute {
		bad("MONGO_SERVER_SELECTION_TIMEOUT", "must be greater than zero and at most 1m")
	}
	if b.Mongo.RawURI != "" && !strings.HasPrefix(b.Mongo.RawURI, "mongodb://") && !strings.HasPrefix(b.Mongo.RawURI, "mongodb+srv://") {
		bad("MONGO_URI", "must start with mongodb:// or mongodb+srv://")
	}
	if b.Redis.Port < 1 || b.Redis.Port > 65535 {
		bad("REDIS_PORT", "must be between 1 and 65535")
	}
	if b.Redis.URL != "" {
		if _, err := b.Redis.Options(); err != nil {
			errs = append(errs, err)
		}
	}
	if b.MinIO.URL != "" {
		if _, _, err := b.MinIO.Endpoint(); err != nil {
			errs = append(errs, err)
		}
	}
	if !isRate(b.Sentry.TracesSampleRate) {
		bad("SENTRY_TRACES_SAMPLE_RATE", "must be between 0 and 1")
	}
	if !isRate(b.Sentry.ProfilesSampleRate) {
		bad("SENTRY_PROFILES_SAMPLE_RATE", "must be between 0 and 1")
	}
	if b.OpsAddr != "" {
		if _, port, err := net.SplitHostPort(b.OpsAddr); err != nil || port == "" {
			bad("OPS_ADDR", "must be host:port or :port")
		}
	}
	switch b.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("LOG_LEVEL", "must be debug, info, warn or error")
	}

	if len(errs) == 0 {
		return nil
	}
	return &Error{Problems: errs}
}

func isRate(f float64) bool { return !math.IsNaN(f) && f >= 0 && f <= 1 }

// Normalize trims what env takes literally: "a, b" lists and the case of
// enum values, so "APP_ENV=Prod" or "LOG_LEVEL=INFO" are accepted.
func (b *Base) Normalize() {
	b.App.Env = strings.ToLower(strings.TrimSpace(b.App.Env))
	b.LogLevel = strings.ToLower(strings.TrimSpace(b.LogLevel))
	b.CORSOrigins = CleanList(b.CORSOrigins)
}

// CleanList trims the items of a comma-separated list variable ("a, b")
// and drops empty ones; an empty list is nil.
func CleanList(items []string) []string {
	out := items[:0]
	for _, it := range items {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
