// Package config loads a service's settings from environment variables (and
// .env files) into a struct, using the variable names of the original Python
// service. Each service declares its own struct that embeds Base and adds what
// only it needs:
//
//	type Config struct {
//		config.Base
//		Workers int `env:"FILEINGEST_WORKERS" envDefault:"4"`
//	}
//
//	cfg, err := config.Load[Config]()
//
// A bad or missing value stops startup with one line that names the variable
// and never repeats its value, because values are often secrets.
package config

import (
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

// normalizer is implemented through an embedded Base; it tidies values that
// env parses literally (spaces around list items, case of enum values).
type normalizer interface {
	normalize()
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
	if n, ok := any(&cfg).(normalizer); ok {
		n.normalize()
	}
	if v, ok := any(&cfg).(validator); ok {
		if err := v.Validate(); err != nil {
			return zero, &Error{Problems: flatten(err)}
		}
	}
	return cfg, nil
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
