// Package config loads a service's settings from environment variables (and
// .env files) into a struct, using the variable names of the original Python
// service. Base holds what every service reads; each service owns the rest
// as its Settings, with their defaults written once, in the envDefault tags,
// and a Validate method; its Config composes the two:
//
//	type Settings struct {
//		Workers int `env:"FILEINGEST_WORKERS" envDefault:"4"`
//	}
//
//	type Config struct {
//		config.Base
//		Settings
//	}
//
//	cfg, err := config.Load[Config]()
//
// Code that builds Settings without an environment (tests) starts from
// Defaults, never from a zero value or a second list of defaults.
//
// A bad or missing value stops startup with one line that names the variable
// and never repeats its value, because values are often secrets.
package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"

	"github.com/caarlos0/env/v11"
)

// validator is implemented by Base and by any service struct that adds rules.
// A service struct that defines its own Validate must call Base.Validate
// itself (see Base.Validate).
type validator interface {
	Validate() error
}

// Normalizer tidies values that env parses literally (spaces around list
// items, case of enum values). Base implements it; a Config whose Settings
// tidy values too declares Normalize calling both, as it does Validate.
type Normalizer interface {
	Normalize()
}

// Load reads the process environment, fills in variables from ".env" in the
// working directory and from the file named by ENV_FILE (the process
// environment always wins over both files, and ENV_FILE over ".env"), then
// behaves like LoadFrom.
func Load[T any]() (T, error) {
	environ, err := environWithFiles(env.ToMap(os.Environ()))
	if err != nil {
		var zero T
		return zero, err
	}
	return LoadFrom[T](environ)
}

// LoadFrom fills a T from environ (variable name -> value), applies defaults,
// and runs T's Validate method when it has one. Every problem found is
// reported in one *Error.
func LoadFrom[T any](environ map[string]string) (T, error) {
	var cfg, zero T
	if environ == nil {
		// env falls back to os.Environ for a nil map; LoadFrom must only see
		// what it was given.
		environ = map[string]string{}
	}
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: environ}); err != nil {
		return zero, &Error{Problems: explain(err, reflect.TypeOf(cfg), environ)}
	}
	if n, ok := any(&cfg).(Normalizer); ok {
		n.Normalize()
	}
	if v, ok := any(&cfg).(validator); ok {
		if err := v.Validate(); err != nil {
			return zero, &Error{Problems: flatten(err)}
		}
	}
	return cfg, nil
}

// Defaults is a T as an empty environment fills it: every field that has an
// envDefault tag holds that default, the one place defaults are written.
// It neither validates nor insists on required variables, so the caller
// completes what has no default. A tag env cannot parse is a bug in T, so
// Defaults panics on it.
func Defaults[T any]() T {
	var cfg T
	err := env.ParseWithOptions(&cfg, env.Options{Environment: map[string]string{}})
	var agg env.AggregateError
	if errors.As(err, &agg) {
		var bad []error
		for _, e := range agg.Errors {
			if !errors.As(e, new(env.VarIsNotSetError)) {
				bad = append(bad, e)
			}
		}
		err = errors.Join(bad...)
	}
	if err != nil {
		panic(fmt.Sprintf("config: the defaults of %T do not parse: %v", cfg, err))
	}
	if n, ok := any(&cfg).(Normalizer); ok {
		n.Normalize()
	}
	return cfg
}

// flatten lists the leaves of an error tree built with errors.Join or *Error,
// so that a service's Validate can combine Base.Validate with its own rules
// and Load still prints a single line.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, p := range joined.Unwrap() {
			out = append(out, flatten(p)...)
		}
		return out
	}
	return []error{err}
}
