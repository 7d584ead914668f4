package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"

	"github.com/nonefinity/backend/pkg/config"
)

// Dev binds loopback unless APP_HOST says otherwise; prod binds every
// interface (its gateway sits behind a load balancer).
func TestListenHost(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "127.0.0.1"},
		{map[string]string{"APP_ENV": "dev"}, "127.0.0.1"},
		{map[string]string{"APP_ENV": "dev", "APP_HOST": "0.0.0.0"}, "0.0.0.0"},
		{map[string]string{"APP_ENV": "dev", "APP_HOST": " ::1 "}, "::1"},
		{map[string]string{"APP_ENV": "prod"}, "0.0.0.0"},
		{map[string]string{"APP_ENV": "prod", "APP_HOST": "10.0.0.5"}, "10.0.0.5"},
	} {
		cfg, err := config.LoadFrom[config.Base](tc.env)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.App.ListenHost(); got != tc.want {
			t.Errorf("%v: listen host %q, want %q", tc.env, got, tc.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := config.LoadFrom[config.Base](map[string]string{})
	if err != nil {
		t.Fatalf("LoadFrom: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"APP_NAME", cfg.App.Name, "Nonefinity"},
		{"APP_ENV", cfg.App.Env, "dev"},
		{"APP_HOST", cfg.App.Host, ""},
		{"App.ListenHost", cfg.App.ListenHost(), "127.0.0.1"},
		{"APP_PORT", cfg.App.Port, 8000},
		{"APP_DEBUG", cfg.App.Debug, false},
		{"MONGO_HOST", cfg.Mongo.Host, "localhost"},
		{"MONGO_PORT", cfg.Mongo.Port, 27017},
		{"MONGO_DB", cfg.Mongo.Database(), "nonefinity"},
		{"Mongo.URI", cfg.Mongo.URI(), "mongodb://localhost:27017/"},
		{"REDIS_PORT", cfg.Redis.Port, 6379},
		{"Redis.Enabled", cfg.Redis.Enabled(), false},
		{"MINIO_BUCKET", cfg.MinIO.Bucket, "nonefinity"},
		{"MINIO_REGION", cfg.MinIO.Region, "us-east-1"},
		{"SENTRY_DSN", cfg.Sentry.DSN, ""},
		{"SENTRY_TRACES_SAMPLE_RATE", cfg.Sentry.TracesSampleRate, 0.1},
		{"SENTRY_PROFILES_SAMPLE_RATE", cfg.Sentry.ProfilesSampleRate, 0.0},
		{"SENTRY_SEND_DEFAULT_PII", cfg.Sentry.SendDefaultPII, false},
		{"CORS_ORIGINS", cfg.CORSOrigins, []string{"http://localhost:5173", "http://127.0.0.1:5173"}},
		{"NATS_URL", cfg.NATSURL, "nats://127.0.0.1:4222"},
		{"NATS_CREDS", cfg.NATSCreds, ""},
		{"DATA_DIR", cfg.DataDir, "./data"},
		{"LOG_LEVEL", cfg.LogLevel, "info"},
		{"LOG_FILE", cfg.LogFile, ""},
		{"IsDev", cfg.IsDev(), true},
		{"IsProd", cfg.IsProd(), false},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestValuesAreReadAndTidied(t *testing.T) {
	cfg, err := config.LoadFrom[config.Base](map[string]string{
		"APP_ENV":                   "Prod",
		"APP_PORT":                  "0",
		"APP_DEBUG":                 "true",
		"LOG_LEVEL":                 "WARN",
		"CORS_ORIGINS":              " https://a.example , https://b.example,,",
		"SENTRY_TRACES_SAMPLE_RATE": "1",
	})
	if err != nil {
		t.Fatalf("LoadFrom: %v", err)
	}
	if !cfg.IsProd() || cfg.IsDev() {
		t.Errorf("APP_ENV=Prod: IsProd=%v IsDev=%v", cfg.IsProd(), cfg.IsDev())
	}
	if cfg.App.Port != 0 || !cfg.App.Debug || cfg.LogLevel != "warn" || cfg.Sentry.TracesSampleRate != 1 {
		t.Errorf("got port=%d debug=%v level=%q rate=%v", cfg.App.Port, cfg.App.Debug, cfg.LogLevel, cfg.Sentry.TracesSampleRate)
	}
	if want := []string{"https://a.example", "https://b.example"}; !reflect.DeepEqual(cfg.CORSOrigins, want) {
		t.Errorf("CORS_ORIGINS = %q, want %q", cfg.CORSOrigins, want)
	}
}

func TestMongoURIWins(t *testing.T) {
	cfg, err := config.LoadFrom[config.Base](map[string]string{
		"MONGO_URI":  "mongodb://db1.example,db2.example/?replicaSet=rs0",
		"MONGO_HOST": "ignored.example",
		"MONGO_USER": "ignored",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Mongo.URI(); got != "mongodb://db1.example,db2.example/?replicaSet=rs0" {
		t.Errorf("URI() = %q", got)
	}
}

// The driver must read back exactly the user and password we put in, even
// when they contain every character that has a meaning in a URI.
func TestMongoURIEscapesCredentials(t *testing.T) {
	const user, pwd = "app user@x", "p@ss:w/rd?#[]% +é"
	cfg, err := config.LoadFrom[config.Base](map[string]string{
		"MONGO_HOST": "db.example",
		"MONGO_PORT": "27018",
		"MONGO_USER": user,
		"MONGO_PWD":  pwd,
	})
	if err != nil {
		t.Fatal(err)
	}
	uri := cfg.Mongo.URI()
	if strings.Contains(uri, pwd) {
		t.Fatalf("URI() contains the raw password: %q", uri)
	}
	cs, err := connstring.ParseAndValidate(uri)
	if err != nil {
		t.Fatalf("driver rejects %q: %v", uri, err)
	}
	if cs.Username != user || cs.Password != pwd {
		t.Errorf("driver read user=%q password=%q, want %q %q", cs.Username, cs.Password, user, pwd)
	}
	if len(cs.Hosts) != 1 || cs.Hosts[0] != "db.example:27018" {
		t.Errorf("hosts = %q", cs.Hosts)
	}
}

func TestRedisOptions(t *testing.T) {
	t.Run("REDIS_URL wins", func(t *testing.T) {
		cfg, err := config.LoadFrom[config.Base](map[string]string{
			"REDIS_URL":  "redis://:s3cret@cache.example:6380/2",
			"REDIS_HOST": "ignored.example",
			"REDIS_PWD":  "ignored",
		})
		if err != nil {
			t.Fatal(err)
		}
		opts, err := cfg.Redis.Options()
		if err != nil {
			t.Fatal(err)
		}
		if !cfg.Redis.Enabled() || opts.Addr != "cache.example:6380" || opts.Password != "s3cret" || opts.DB != 2 {
			t.Errorf("enabled=%v addr=%q password=%q db=%d", cfg.Redis.Enabled(), opts.Addr, opts.Password, opts.DB)
		}
	})
	t.Run("host and port", func(t *testing.T) {
		cfg, err := config.LoadFrom[config.Base](map[string]string{"REDIS_HOST": "cache.example", "REDIS_PWD": "pw"})
		if err != nil {
			t.Fatal(err)
		}
		opts, err := cfg.Redis.Options()
		if err != nil {
			t.Fatal(err)
		}
		if !cfg.Redis.Enabled() || opts.Addr != "cache.example:6379" || opts.Password != "pw" {
			t.Errorf("enabled=%v addr=%q password=%q", cfg.Redis.Enabled(), opts.Addr, opts.Password)
		}
	})
	t.Run("not configured", func(t *testing.T) {
		var r config.Redis
		if _, err := r.Options(); err == nil || !strings.Contains(err.Error(), "REDIS_HOST") {
			t.Errorf("Options() error = %v, want one naming REDIS_HOST", err)
		}
	})
}

func TestMinIOEndpoint(t *testing.T) {
	tests := []struct {
		url      string
		hostport string
		secure   bool
		wantErr  bool
	}{
		{"http://localhost:9000", "localhost:9000", false, false},
		{"https://s3.example.com", "s3.example.com", true, false},
		{"https://s3.example.com/", "s3.example.com", true, false},
		{"localhost:9000", "localhost:9000", false, false},
		{"", "", false, true},
		{"ftp://localhost:9000", "", false, true},
		{"http://localhost:9000/bucket", "", false, true},
		{"http://key:secret@localhost:9000", "", false, true},
	}
	for _, tt := range tests {
		hostport, secure, err := config.MinIO{URL: tt.url}.Endpoint()
		if (err != nil) != tt.wantErr || hostport != tt.hostport || secure != tt.secure {
			t.Errorf("Endpoint(%q) = %q, %v, %v; want %q, %v, error=%v", tt.url, hostport, secure, err, tt.hostport, tt.secure, tt.wantErr)
		}
		if err != nil && (!strings.Contains(err.Error(), "MINIO_URL") || (tt.url != "" && strings.Contains(err.Error(), tt.url))) {
			t.Errorf("Endpoint(%q) error %q must name MINIO_URL and not quote the URL", tt.url, err)
		}
	}
}

// Defaults fills what an empty environment would, without validating, and
// tidies as Load does.
func TestDefaultsAreTheTags(t *testing.T) {
	type settings struct {
		Workers int             `env:"FILEINGEST_WORKERS" envDefault:"4"`
		Wait    config.Duration `env:"FILEINGEST_WAIT" envDefault:"90"`
		Token   string          `env:"FILEINGEST_TOKEN,required"`
	}
	if got := config.Defaults[settings](); got.Workers != 4 || got.Wait.Duration() != 90*time.Second || got.Token != "" {
		t.Errorf("Defaults = %+v", got)
	}
	base := config.Defaults[config.Base]()
	loaded, err := config.LoadFrom[config.Base](nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(base, loaded) {
		t.Errorf("Defaults = %+v, an empty environment gives %+v", base, loaded)
	}
	type broken struct {
		N int `env:"FILEINGEST_N" envDefault:"many"`
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "broken") {
			t.Errorf("a default that does not parse: recover() = %v", r)
		}
	}()
	config.Defaults[broken]()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadReadsDotEnvButProcessEnvironmentWins(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFile(t, filepath.Join(dir, ".env"), "# comment\nAPP_NAME=FromDotEnv\nAPP_PORT=9001\nMONGO_DB=dotenvdb\nNATS_CREDS=dotenv.creds\n")
	writeFile(t, filepath.Join(dir, "extra.env"), "MONGO_DB=extradb\nAPP_PORT=9002\nDATA_DIR=/srv/data\n")
	t.Setenv("APP_PORT", "9100")
	t.Setenv("DATA_DIR", "/from/process")

	t.Run("only .env", func(t *testing.T) {
		t.Setenv("ENV_FILE", "")
		cfg, err := config.Load[config.Base]()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.App.Name != "FromDotEnv" || cfg.Mongo.DB != "dotenvdb" || cfg.App.Port != 9100 || cfg.DataDir != "/from/process" {
			t.Errorf("name=%q db=%q port=%d data=%q", cfg.App.Name, cfg.Mongo.DB, cfg.App.Port, cfg.DataDir)
		}
	})
	t.Run("ENV_FILE over .env, process over both", func(t *testing.T) {
		t.Setenv("ENV_FILE", "extra.env")
		cfg, err := config.Load[config.Base]()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.App.Name != "FromDotEnv" || cfg.Mongo.DB != "extradb" || cfg.NATSCreds != "dotenv.creds" ||
			cfg.App.Port != 9100 || cfg.DataDir != "/from/process" {
			t.Errorf("name=%q db=%q creds=%q port=%d data=%q", cfg.App.Name, cfg.Mongo.DB, cfg.NATSCreds, cfg.App.Port, cfg.DataDir)
		}
	})
	t.Run("process environment untouched", func(t *testing.T) {
		if v, ok := os.LookupEnv("MONGO_DB"); ok {
			t.Errorf("Load wrote MONGO_DB=%q into the process environment", v)
		}
	})
}

func TestLoadWithoutDotEnv(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("ENV_FILE", "")
	t.Setenv("APP_NAME", "NoFile")
	cfg, err := config.Load[config.Base]()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.App.Name != "NoFile" {
		t.Errorf("APP_NAME = %q", cfg.App.Name)
	}
}

func TestEnvFileErrorsNameTheFileNotItsContent(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)

	t.Run("ENV_FILE missing", func(t *testing.T) {
		t.Setenv("ENV_FILE", "missing-9f3a.env")
		_, err := config.Load[config.Base]()
		assertProblem(t, err, "ENV_FILE", "missing-9f3a")
	})
	t.Run(".env malformed", func(t *testing.T) {
		t.Setenv("ENV_FILE", "")
		writeFile(t, filepath.Join(dir, ".env"), "CREDENTIAL_SECRET_KEY=\"hunter2-unterminated\n")
		_, err := config.Load[config.Base]()
		assertProblem(t, err, ".env", "hunter2")
	})
}

// assertProblem checks that err is one line that names variable and does not
// contain secret.
func assertProblem(t *testing.T, err error, variable, secret string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error naming %s, got nil", variable)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "config: ") || !strings.Contains(msg, variable+": ") {
		t.Errorf("error %q does not name %s", msg, variable)
	}
	if strings.Contains(msg, secret) {
		t.Errorf("error %q contains the value %q", msg, secret)
	}
	if strings.ContainsAny(msg, "\n\r") {
		t.Errorf("error %q is not one line", msg)
	}
}

func TestInvalidValuesNameTheVariableNotTheValue(t *testing.T) {
	tests := []struct {
		name     string
		environ  map[string]string
		variable string
		problem  string
		value    string
	}{
		{"bad APP_ENV", map[string]string{"APP_ENV": "staging-7x"}, "APP_ENV", "must be dev or prod", "staging-7x"},
		{"APP_PORT not a number", map[string]string{"APP_PORT": "80abc80"}, "APP_PORT", "must be an integer", "80abc80"},
		{"APP_PORT out of range", map[string]string{"APP_PORT": "65536"}, "APP_PORT", "must be between 0 and 65535", "65536"},
		{"MONGO_PORT shares its Go field name with APP_PORT", map[string]string{"MONGO_PORT": "27x17"}, "MONGO_PORT", "must be an integer", "27x17"},
		{"APP_DEBUG", map[string]string{"APP_DEBUG": "maybe-ish"}, "APP_DEBUG", "must be true or false", "maybe-ish"},
		{"sample rate not a number", map[string]string{"SENTRY_TRACES_SAMPLE_RATE": "lots"}, "SENTRY_TRACES_SAMPLE_RATE", "must be a number", "lots"},
		{"sample rate above 1", map[string]string{"SENTRY_PROFILES_SAMPLE_RATE": "1.75"}, "SENTRY_PROFILES_SAMPLE_RATE", "must be between 0 and 1", "1.75"},
		{"LOG_LEVEL", map[string]string{"LOG_LEVEL": "verbose9"}, "LOG_LEVEL", "must be debug, info, warn or error", "verbose9"},
		{"zero selection timeout", map[string]string{"MONGO_SERVER_SELECTION_TIMEOUT": "0"}, "MONGO_SERVER_SELECTION_TIMEOUT", "must be greater than zero and at most 1m", "=0"},
		{"selection timeout above 1m", map[string]string{"MONGO_SERVER_SELECTION_TIMEOUT": "61s"}, "MONGO_SERVER_SELECTION_TIMEOUT", "must be greater than zero and at most 1m", "61s"},
		{"REDIS_URL with password", map[string]string{"REDIS_URL": "http://user:hunter2@cache"}, "REDIS_URL", "must be a redis://", "hunter2"},
		{"MONGO_URI with password", map[string]string{"MONGO_URI": "postgres://u:hunter2@db"}, "MONGO_URI", "must start with mongodb://", "hunter2"},
		{"MINIO_URL", map[string]string{"MINIO_URL": "ftp://k:hunter2@s3"}, "MINIO_URL", "must be host:port", "hunter2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.LoadFrom[config.Base](tt.environ)
			assertProblem(t, err, tt.variable, tt.value)
			if err != nil && !strings.Contains(err.Error(), tt.variable+": "+tt.problem) {
				t.Errorf("error %q, want %q", err, tt.variable+": "+tt.problem)
			}
			var ve config.VarError
			if !errors.As(err, &ve) || ve.Var != tt.variable {
				t.Errorf("errors.As VarError = %+v, want Var %s", ve, tt.variable)
			}
		})
	}
}

// fileIngest stands for a service's own configuration.
type fileIngest struct {
	config.Base
	Token   string `env:"FILEINGEST_TOKEN,required"`
	Workers int    `env:"FILEINGEST_WORKERS" envDefault:"4"`
	Limits  []int  `env:"FILEINGEST_LIMITS"`
	Queue   struct {
		Depth int `env:"DEPTH" envDefault:"10"`
	} `envPrefix:"FILEINGEST_QUEUE_"`
}

func (c fileIngest) Validate() error {
	var errs []error
	if c.Workers < 1 {
		errs = append(errs, config.VarError{Var: "FILEINGEST_WORKERS", Problem: "must be at least 1"})
	}
	return errors.Join(append(errs, c.Base.Validate())...)
}

func TestServiceStruct(t *testing.T) {
	t.Run("loads", func(t *testing.T) {
		cfg, err := config.LoadFrom[fileIngest](map[string]string{
			"FILEINGEST_TOKEN":       "tok",
			"FILEINGEST_LIMITS":      "1,2,3",
			"FILEINGEST_QUEUE_DEPTH": "7",
			"APP_NAME":               "fileingest",
		})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Token != "tok" || cfg.Workers != 4 || !reflect.DeepEqual(cfg.Limits, []int{1, 2, 3}) ||
			cfg.Queue.Depth != 7 || cfg.App.Name != "fileingest" || cfg.Mongo.Port != 27017 {
			t.Errorf("got %+v", cfg)
		}
	})
	t.Run("missing required variable", func(t *testing.T) {
		_, err := config.LoadFrom[fileIngest](map[string]string{})
		assertProblem(t, err, "FILEINGEST_TOKEN", "tok")
		if err == nil || err.Error() != "config: FILEINGEST_TOKEN: required" {
			t.Errorf("error = %v, want exactly %q", err, "config: FILEINGEST_TOKEN: required")
		}
	})
	t.Run("several problems on one line", func(t *testing.T) {
		_, err := config.LoadFrom[fileIngest](map[string]string{
			"APP_PORT":               "eighty",
			"FILEINGEST_LIMITS":      "1,two2,3",
			"FILEINGEST_QUEUE_DEPTH": "deep-9",
		})
		want := "config: APP_PORT: must be an integer; FILEINGEST_TOKEN: required; " +
			"FILEINGEST_LIMITS: must be a comma-separated list (each item must be an integer); " +
			"FILEINGEST_QUEUE_DEPTH: must be an integer"
		if err == nil || err.Error() != want {
			t.Errorf("error =\n%v\nwant\n%s", err, want)
		}
	})
	t.Run("service rules and Base rules together", func(t *testing.T) {
		_, err := config.LoadFrom[fileIngest](map[string]string{
			"FILEINGEST_TOKEN":   "tok",
			"FILEINGEST_WORKERS": "0",
			"APP_ENV":            "qa-secret",
		})
		want := "config: FILEINGEST_WORKERS: must be at least 1; APP_ENV: must be dev or prod"
		if err == nil || err.Error() != want {
			t.Errorf("error = %v, want %q", err, want)
		}
	})
}
