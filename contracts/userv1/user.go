// Package userv1 is the user as the API shows it (GET /auth/me) and the
// events the gateway publishes on the USERS stream when Clerk tells it about
// a user. Users are owned by the gateway; other services only react to these
// events (erasure on UserDeleted).
package userv1

import (
	"encoding/json"
	"time"
)

// User is a document of the users collection, with the field names of the
// original service. ID is the internal user id (24-hex ObjectId) that travels
// on every NATS request as Nf-User-Id.
type User struct {
	ID             string    `json:"id"`
	ClerkID        string    `json:"clerk_id"`
	Emails         []string  `json:"emails"`
	PrimaryEmail   string    `json:"primary_email,omitempty"`
	Username       string    `json:"username,omitempty"`
	FirstName      string    `json:"first_name,omitempty"`
	LastName       string    `json:"last_name,omitempty"`
	HasImage       bool      `json:"has_image"`
	ProfileImage   string    `json:"profile_image,omitempty"`
	Banned         bool      `json:"banned"`
	IsOAuth        bool      `json:"is_oauth"`
	OAuthProviders []string  `json:"oauth_providers"`
	CreatedAt      time.Time `json:"created_at,omitzero"`
	UpdatedAt      time.Time `json:"updated_at,omitzero"`
}

// MarshalJSON writes absent lists as [] rather than null: the web client
// iterates them without checking.
func (u User) MarshalJSON() ([]byte, error) {
	type plain User
	p := plain(u)
	if p.Emails == nil {
		p.Emails = []string{}
	}
	if p.OAuthProviders == nil {
		p.OAuthProviders = []string{}
	}
	return json.Marshal(p)
}
