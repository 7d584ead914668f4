package config

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// VarError says what is wrong with one variable. It never carries the value:
// configuration values are often secrets, and startup errors end up in logs.
type VarError struct {
	Var     string
	Problem string
}

func (e VarError) Error() string { return e.Var + ": " + e.Problem }

// Error is every problem found while loading, printed on one line:
//
//	config: APP_PORT: must be an integer; CREDENTIAL_SECRET_KEY: required
type Error struct {
	Problems []error
}

func (e *Error) Error() string {
	msgs := make([]string, 0, len(e.Problems))
	for _, p := range e.Problems {
		msgs = append(msgs, strings.TrimPrefix(p.Error(), "config: "))
	}
	return "config: " + strings.Join(msgs, "; ")
}

// Unwrap lets errors.As find a VarError inside.
func (e *Error) Unwrap() []error { return e.Problems }

// problem is an error message that is safe to show because it quotes no
// input; our own UnmarshalText methods return it.
type problem string

func (p problem) Error() string { return string(p) }

// explain turns a failed env.Parse into one VarError per variable. env's own
// errors name the Go field rather than the variable, and its parse errors
// quote the offending value, so each variable is parsed again on its own,
// through env with the field's original tag, to learn exactly which ones fail.
func explain(err error, t reflect.Type, environ map[string]string) []error {
	var problems []error
	if t != nil && t.Kind() == reflect.Struct {
		forEachVariable(t, "", func(f reflect.StructField, prefix string) {
			if p := checkVariable(f, prefix, environ); p != nil {
				problems = append(problems, p)
			}
		})
	}
	if len(problems) > 0 {
		return problems
	}
	// Nothing belongs to a single variable: a programming error in T.
	var notStruct env.NotStructPtrError
	if errors.As(err, &notStruct) {
		return []error{errors.New("the configuration type must be a struct")}
	}
	return []error{errors.New("cannot load the configuration")}
}

// forEachVariable visits every field that env reads a variable into, with the
// prefix env would put in front of its name. It follows env's own walk:
// unexported fields are skipped, struct fields without a variable of their own
// are descended into (adding their envPrefix).
func forEachVariable(t reflect.Type, prefix string, visit func(reflect.StructField, string)) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		key := envKey(f.Tag)
		switch {
		case f.Type.Kind() == reflect.Struct && (key == "" || f.Type.Name() == ""):
			forEachVariable(f.Type, prefix+f.Tag.Get("envPrefix"), visit)
		case key == "" || key == "-":
			continue
		default:
			visit(f, prefix)
		}
	}
}

func envKey(tag reflect.StructTag) string {
	key, _, _ := strings.Cut(tag.Get("env"), ",")
	return key
}

// checkVariable parses one field alone, in a one-field struct with the same
// type and tag, so any error is about this variable and no other.
func checkVariable(f reflect.StructField, prefix string, environ map[string]string) error {
	one := reflect.StructOf([]reflect.StructField{{Name: "V", Type: f.Type, Tag: f.Tag}})
	err := env.ParseWithOptions(reflect.New(one).Interface(), env.Options{
		Environment: environ,
		Prefix:      prefix,
	})
	if err == nil {
		return nil
	}
	return VarError{Var: prefix + envKey(f.Tag), Problem: describe(err, f.Type)}
}

// describe says what is wrong in words that never include the value.
func describe(err error, t reflect.Type) string {
	var (
		notSet   env.VarIsNotSetError
		empty    env.EmptyVarError
		file     env.LoadFileContentError
		parse    env.ParseError
		noParser env.NoParserError
		badTag   env.NoSupportedTagOptionError
	)
	switch {
	case errors.As(err, &notSet):
		return "required"
	case errors.As(err, &empty):
		return "must not be empty"
	case errors.As(err, &file):
		return "cannot read the file it names"
	case errors.As(err, &parse):
		return parseProblem(t, parse.Err)
	case errors.As(err, &noParser):
		return fmt.Sprintf("has a Go type config cannot parse (%s)", t)
	case errors.As(err, &badTag):
		return fmt.Sprintf("has an unsupported env tag option %q", badTag.Tag)
	}
	return "has an invalid value"
}

func parseProblem(t reflect.Type, cause error) string {
	var safe problem
	if errors.As(cause, &safe) {
		return string(safe)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case reflect.TypeFor[time.Duration]():
		return "must be a duration such as 30s or 10m"
	case reflect.TypeFor[url.URL]():
		return "must be a URL"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "must be true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "must be an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "must be a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "must be a number"
	case reflect.Slice:
		return "must be a comma-separated list (each item " + parseProblem(t.Elem(), cause) + ")"
	case reflect.Map:
		return "must be a comma-separated list of key:value pairs"
	}
	return "has an invalid value"
}

// Problems collects what a Validate finds wrong, one VarError per
// variable, so that every problem is reported at once.
type Problems []error

// Add records that the variable name is wrong, and how.
func (p *Problems) Add(name, problem string) {
	*p = append(*p, VarError{Var: name, Problem: problem})
}
