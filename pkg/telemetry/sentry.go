package telemetry

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/nonefinity/backend/pkg/logx"
)

// SentryOptions mirrors the SENTRY_* configuration.
type SentryOptions struct {
	// DSN enables Sentry; empty makes InitSentry a no-op.
	DSN         string
	Environment string
	Release     string
	// ServerName defaults to the host name.
	ServerName string
	// TracesSampleRate is the share of transactions sent (0 disables
	// tracing); health routes are never sampled.
	TracesSampleRate float64
	// ProfilesSampleRate is accepted for configuration compatibility but has
	// no effect: sentry-go no longer ships a profiler.
	ProfilesSampleRate float64
	// SendDefaultPII lets the SDK attach request headers, cookies and the
	// client address; the scrubber still filters credentials out of them.
	SendDefaultPII bool
	Debug          bool
	// Transport replaces the HTTP transport (tests).
	Transport sentry.Transport
}

// InitSentry binds a Sentry client to the process-wide hub (the one
// sentryhttp and sentry.CaptureException use) and returns a flush function
// to call before exit. Without a DSN it does nothing and returns a flush that
// reports success.
func InitSentry(o SentryOptions) (flush func(time.Duration) bool, err error) {
	noop := func(time.Duration) bool { return true }
	if o.DSN == "" {
		return noop, nil
	}
	for name, rate := range map[string]float64{"traces": o.TracesSampleRate, "profiles": o.ProfilesSampleRate} {
		if rate < 0 || rate > 1 {
			return noop, fmt.Errorf("telemetry: sentry %s sample rate %v is outside [0, 1]", name, rate)
		}
	}
	if _, err := sentry.NewDsn(o.DSN); err != nil {
		// The parse error quotes the DSN; say what is wrong without it.
		var perr *sentry.DsnParseError
		if errors.As(err, &perr) {
			return noop, fmt.Errorf("telemetry: invalid SENTRY_DSN: %s", dsnProblem(perr.Message))
		}
		return noop, errors.New("telemetry: invalid SENTRY_DSN")
	}

	client, err := sentry.NewClient(sentry.ClientOptions{
		Dsn:                   o.DSN,
		Environment:           o.Environment,
		Release:               o.Release,
		ServerName:            o.ServerName,
		Debug:                 o.Debug,
		SendDefaultPII:        o.SendDefaultPII,
		EnableTracing:         o.TracesSampleRate > 0,
		TracesSampleRate:      o.TracesSampleRate,
		TracesSampler:         TracesSampler(o.TracesSampleRate),
		BeforeSend:            scrubHook,
		BeforeSendTransaction: scrubHook,
		BeforeBreadcrumb:      scrubBreadcrumbHook,
		Transport:             o.Transport,
	})
	if err != nil {
		return noop, fmt.Errorf("telemetry: sentry client: %s", logx.Redact(err.Error()))
	}
	sentry.CurrentHub().BindClient(client)
	return client.Flush, nil
}

// dsnProblem keeps the reason of a DSN parse error but never the DSN: only
// the "invalid url: parse \"<dsn>\": …" form quotes it.
func dsnProblem(msg string) string {
	if strings.HasPrefix(msg, "invalid url") {
		return "invalid url"
	}
	return msg
}

func scrubHook(e *sentry.Event, _ *sentry.EventHint) *sentry.Event { return ScrubEvent(e) }

func scrubBreadcrumbHook(b *sentry.Breadcrumb, _ *sentry.BreadcrumbHint) *sentry.Breadcrumb {
	return scrubBreadcrumb(b)
}
