package mcpapi

import (
	"fmt"
	"slices"

	"github.com/google/jsonschema-go/jsonschema"
)

// schemaFor is the JSON Schema of T as the SDK infers it, made exact: the
// inference lets every slice and pointer be null, but the tools never send
// null (an empty list is [], an absent value is left out), so a client may
// rely on the type it reads.
func schemaFor[T any]() *jsonschema.Schema {
	s, err := jsonschema.For[T](nil)
	if err != nil {
		// The types are this package's own; a failure is a programming error.
		panic(fmt.Sprintf("mcpapi: schema of %T: %v", *new(T), err))
	}
	dropNull(s)
	return s
}

func dropNull(s *jsonschema.Schema) {
	if s == nil {
		return
	}
	if len(s.Types) == 2 && slices.Contains(s.Types, "null") {
		s.Type, s.Types = s.Types[slices.IndexFunc(s.Types, func(t string) bool { return t != "null" })], nil
	}
	for _, p := range s.Properties {
		dropNull(p)
	}
	dropNull(s.Items)
	dropNull(s.AdditionalProperties)
}
