// Package access is what an authenticated caller may do: a Clerk session may
// do everything its role allows; a personal API key only what its scopes
// name. The auth middleware puts a Grant on the request's context; routes and
// MCP tools ask it with Require before they call a service.
package access

import (
	"context"
	"fmt"
	"slices"
)

// Scope is one permission a personal API key can carry.
type Scope string

// The scopes of personal API keys. None of them reads a credential's
// plaintext key: credentials:read lists and shows masked keys only.
const (
	DatasetsRead    Scope = "datasets:read"
	DatasetsQuery   Scope = "datasets:query"
	DatasetsWrite   Scope = "datasets:write"
	FilesRead       Scope = "files:read"
	FilesWrite      Scope = "files:write"
	CredentialsRead Scope = "credentials:read"
)

var all = []Scope{DatasetsRead, DatasetsQuery, DatasetsWrite, FilesRead, FilesWrite, CredentialsRead}

// All lists every scope, in a stable order (for documentation and defaults).
func All() []Scope { return slices.Clone(all) }

// Parse returns the scope s names, or false when it names none.
func Parse(s string) (Scope, bool) {
	if slices.Contains(all, Scope(s)) {
		return Scope(s), true
	}
	return "", false
}

// Grant is what one request may do.
type Grant struct {
	// KeyID is the id of the API key the request came with; "" for a session.
	KeyID  string
	scopes []Scope
	full   bool
}

// Session is the grant of a Clerk session token: every scope.
func Session() Grant { return Grant{full: true} }

// Key is the grant of a personal API key with the given scopes.
func Key(id string, scopes []Scope) Grant {
	return Grant{KeyID: id, scopes: slices.Clone(scopes)}
}

// IsKey reports whether the request came with a personal API key.
func (g Grant) IsKey() bool { return g.KeyID != "" }

// Scopes lists the grant's scopes (every scope for a session).
func (g Grant) Scopes() []Scope {
	if g.full {
		return All()
	}
	return slices.Clone(g.scopes)
}

// Allows reports whether the grant includes s.
func (g Grant) Allows(s Scope) bool { return g.full || slices.Contains(g.scopes, s) }

// MissingScopeError is the refusal of a request outside its key's scopes
// (HTTP 403; the message names the scope so the caller can fix the key).
type MissingScopeError struct{ Scope Scope }

func (e *MissingScopeError) Error() string {
	return fmt.Sprintf("this API key lacks the %q scope", string(e.Scope))
}

// Require returns a *MissingScopeError when g does not allow s.
func (g Grant) Require(s Scope) error {
	if g.Allows(s) {
		return nil
	}
	return &MissingScopeError{Scope: s}
}

type grantKey struct{}

// With returns a context carrying g.
func With(ctx context.Context, g Grant) context.Context {
	return context.WithValue(ctx, grantKey{}, g)
}

// From returns the grant on ctx; a context without one (no authentication
// ran) allows nothing.
func From(ctx context.Context) Grant {
	g, _ := ctx.Value(grantKey{}).(Grant)
	return g
}
