package auth

import (
	"encoding/json"
	"testing"

	"github.com/nonefinity/backend/contracts"
)

func TestRoleResolver(t *testing.T) {
	claims := func(js string) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(js), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	cases := []struct {
		name     string
		path     string
		admins   []string
		sub      string
		claims   string
		wantRole string
	}{
		{"default path admin", "", nil, "user_1", `{"metadata":{"role":"admin"}}`, contracts.RoleAdmin},
		{"default path, case and spaces", "", nil, "user_1", `{"metadata":{"role":" Admin "}}`, contracts.RoleAdmin},
		{"default path user", "", nil, "user_1", `{"metadata":{"role":"user"}}`, contracts.RoleUser},
		{"unknown role is user", "", nil, "user_1", `{"metadata":{"role":"superuser"}}`, contracts.RoleUser},
		{"no claim", "", nil, "user_1", `{}`, contracts.RoleUser},
		{"metadata not an object", "", nil, "user_1", `{"metadata":"admin"}`, contracts.RoleUser},
		{"role not a string", "", nil, "user_1", `{"metadata":{"role":true}}`, contracts.RoleUser},
		{"top-level claim", "role", nil, "user_1", `{"role":"admin"}`, contracts.RoleAdmin},
		{"deep custom path", "public.app.roles", nil, "user_1", `{"public":{"app":{"roles":["viewer","admin"]}}}`, contracts.RoleAdmin},
		{"list without admin", "public.app.roles", nil, "user_1", `{"public":{"app":{"roles":["viewer"]}}}`, contracts.RoleUser},
		{"other path ignores metadata.role", "role", nil, "user_1", `{"metadata":{"role":"admin"}}`, contracts.RoleUser},
		{"ADMIN_CLERK_IDS", "", []string{"user_x", " user_1 "}, "user_1", `{}`, contracts.RoleAdmin},
		{"ADMIN_CLERK_IDS other user", "", []string{"user_x"}, "user_1", `{}`, contracts.RoleUser},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRoleResolver(tc.path, tc.admins)
			if got := r.Role(tc.sub, claims(tc.claims)); got != tc.wantRole {
				t.Errorf("role = %q, want %q", got, tc.wantRole)
			}
		})
	}
	if got := NewRoleResolver("", nil).ClaimPath(); got != DefaultRoleClaim {
		t.Errorf("default claim path = %q", got)
	}
}

func TestSetPathIsReadBackByLookupPath(t *testing.T) {
	claims := map[string]any{"metadata": map[string]any{"plan": "pro"}}
	setPath(claims, []string{"metadata", "role"}, "admin")
	setPath(claims, []string{"a", "b", "c"}, "x")
	if got := lookupPath(claims, []string{"metadata", "role"}); got != "admin" {
		t.Errorf("metadata.role = %v", got)
	}
	if got := lookupPath(claims, []string{"metadata", "plan"}); got != "pro" {
		t.Errorf("existing sibling lost: %v", got)
	}
	if got := lookupPath(claims, []string{"a", "b", "c"}); got != "x" {
		t.Errorf("a.b.c = %v", got)
	}
}
