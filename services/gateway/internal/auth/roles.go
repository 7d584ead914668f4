package auth

import (
	"strings"

	"github.com/nonefinity/backend/contracts"
)

// DefaultRoleClaim is where Clerk's custom session claims usually put the
// role: {"metadata": {"role": "admin"}}, filled from the user's public
// metadata by a session-token customization.
const DefaultRoleClaim = "metadata.role"

// RoleResolver decides a token's role: contracts.RoleAdmin when the subject is
// listed in ADMIN_CLERK_IDS or the role claim says "admin", contracts.RoleUser
// otherwise. Any other claim value also means user: an unknown role must not
// grant more than the default.
type RoleResolver struct {
	claimPath []string
	admins    map[string]struct{}
}

// NewRoleResolver takes the dotted claim path (CLERK_ROLE_CLAIM; empty means
// DefaultRoleClaim) and the Clerk user ids that are always admins
// (ADMIN_CLERK_IDS).
func NewRoleResolver(claimPath string, adminClerkIDs []string) RoleResolver {
	claimPath = strings.TrimSpace(claimPath)
	if claimPath == "" {
		claimPath = DefaultRoleClaim
	}
	admins := make(map[string]struct{}, len(adminClerkIDs))
	for _, id := range adminClerkIDs {
		if id = strings.TrimSpace(id); id != "" {
			admins[id] = struct{}{}
		}
	}
	return RoleResolver{claimPath: strings.Split(claimPath, "."), admins: admins}
}

// ClaimPath is the dotted path the role is read from.
func (r RoleResolver) ClaimPath() string { return strings.Join(r.claimPath, ".") }

// Role returns the role for a verified token's subject and claims.
func (r RoleResolver) Role(subject string, claims map[string]any) string {
	if _, ok := r.admins[subject]; ok {
		return contracts.RoleAdmin
	}
	if claimSaysAdmin(lookupPath(claims, r.claimPath)) {
		return contracts.RoleAdmin
	}
	return contracts.RoleUser
}

// lookupPath walks nested JSON objects by key; nil when any step is missing
// or not an object.
func lookupPath(claims map[string]any, path []string) any {
	var cur any = claims
	for _, key := range path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if cur, ok = obj[key]; !ok {
			return nil
		}
	}
	return cur
}

// claimSaysAdmin accepts "admin" or a list of roles containing it (some
// setups keep several roles in one claim).
func claimSaysAdmin(v any) bool {
	switch v := v.(type) {
	case string:
		return isAdminRole(v)
	case []any:
		for _, item := range v {
			if s, ok := item.(string); ok && isAdminRole(s) {
				return true
			}
		}
	}
	return false
}

func isAdminRole(s string) bool { return strings.EqualFold(strings.TrimSpace(s), contracts.RoleAdmin) }

// setPath stores value at a dotted path, creating the objects on the way. It
// is the inverse of lookupPath for the dev minter.
func setPath(claims map[string]any, path []string, value any) {
	cur := claims
	for _, key := range path[:len(path)-1] {
		next, ok := cur[key].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[key] = next
		}
		cur = next
	}
	cur[path[len(path)-1]] = value
}
