package access

import (
	"context"
	"errors"
	"testing"
)

func TestGrants(t *testing.T) {
	if !Session().Allows(CredentialsRead) || Session().IsKey() {
		t.Fatal("a session allows every scope and is not a key")
	}
	k := Key("k1", []Scope{DatasetsRead})
	if !k.Allows(DatasetsRead) || k.Allows(DatasetsQuery) || !k.IsKey() {
		t.Fatalf("key grant wrong: %+v", k)
	}
	var missing *MissingScopeError
	if err := k.Require(DatasetsQuery); !errors.As(err, &missing) || missing.Scope != DatasetsQuery {
		t.Fatalf("Require = %v", err)
	}
	if From(context.Background()).Allows(DatasetsRead) {
		t.Fatal("no grant on the context must allow nothing")
	}
	if got := From(With(context.Background(), k)); got.KeyID != "k1" {
		t.Fatalf("From(With) = %+v", got)
	}
	if _, ok := Parse("credentials:write"); ok {
		t.Fatal("credentials:write is not a scope")
	}
	if s, ok := Parse("files:write"); !ok || s != FilesWrite {
		t.Fatal("files:write must parse")
	}
}
