package config

import (
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration read from either a Go duration ("10m", "90s")
// or a bare whole number of seconds ("600"). The original Python service gave
// DUCKDB_INSTANCE_TTL and DUCKDB_CLEANUP_INTERVAL in seconds, so existing .env
// files keep working.
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler (env uses it).
func (d *Duration) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	if isDigits(s) {
		secs, err := strconv.ParseInt(s, 10, 64)
		if err != nil || secs > int64(time.Duration(1<<63-1)/time.Second) {
			return problem("must be a duration such as 10m or a number of seconds (too large)")
		}
		*d = Duration(time.Duration(secs) * time.Second)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return problem("must be a duration such as 10m or a number of seconds")
	}
	if v < 0 {
		return problem("must not be negative")
	}
	*d = Duration(v)
	return nil
}

// MarshalText prints the Go form ("10m0s").
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func (d Duration) String() string { return time.Duration(d).String() }

// Duration returns d as a time.Duration.
func (d Duration) Duration() time.Duration { return time.Duration(d) }

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
