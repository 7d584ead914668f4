package webhook

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/nonefinity/backend/services/gateway/internal/users"
)

// Clerk event types this package acts on; every other type is acknowledged
// with 204 and ignored.
const (
	eventUserCreated = "user.created"
	eventUserUpdated = "user.updated"
	eventUserDeleted = "user.deleted"
)

// clerkEvent is the envelope of every Clerk webhook.
type clerkEvent struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// clerkUser is the part of Clerk's user object the users collection keeps.
// Clerk sends null for absent strings, which decode as "".
type clerkUser struct {
	ID                    string                 `json:"id"`
	Username              string                 `json:"username"`
	FirstName             string                 `json:"first_name"`
	LastName              string                 `json:"last_name"`
	ImageURL              string                 `json:"image_url"`
	ProfileImageURL       string                 `json:"profile_image_url"`
	HasImage              bool                   `json:"has_image"`
	Banned                bool                   `json:"banned"`
	PrimaryEmailAddressID string                 `json:"primary_email_address_id"`
	EmailAddresses        []clerkEmailAddress    `json:"email_addresses"`
	ExternalAccounts      []clerkExternalAccount `json:"external_accounts"`
	CreatedAt             int64                  `json:"created_at"` // epoch milliseconds
	UpdatedAt             int64                  `json:"updated_at"` // epoch milliseconds
}

type clerkEmailAddress struct {
	ID           string `json:"id"`
	EmailAddress string `json:"email_address"`
}

type clerkExternalAccount struct {
	Provider  string `json:"provider"`
	ImageURL  string `json:"image_url"`
	AvatarURL string `json:"avatar_url"`
	Username  string `json:"username"`
}

// clerkDeletedUser is the data of user.deleted: only the id survives.
type clerkDeletedUser struct {
	ID string `json:"id"`
}

// oauthPrefix is how Clerk names OAuth providers ("oauth_google"); the
// original service stored them with it, and so do we.
const oauthPrefix = "oauth_"

// toProfile maps Clerk's user to our fields with the original service's
// rules. now only stands in for timestamps Clerk did not send.
func toProfile(u clerkUser, now time.Time) users.Profile {
	primary, emails := pickEmails(u)
	var first *clerkExternalAccount
	if len(u.ExternalAccounts) > 0 {
		first = &u.ExternalAccounts[0]
	}
	username := u.Username
	if username == "" && first != nil {
		username = first.Username
	}
	created, updated := eventTimes(u.CreatedAt, u.UpdatedAt, now)
	return users.Profile{
		ClerkID:        u.ID,
		Emails:         emails,
		PrimaryEmail:   primary,
		Username:       username,
		FirstName:      u.FirstName,
		LastName:       u.LastName,
		HasImage:       u.HasImage,
		ProfileImage:   pickProfileImage(u, first),
		Banned:         u.Banned,
		OAuthProviders: oauthProviders(u.ExternalAccounts),
		CreatedAt:      created,
		UpdatedAt:      updated,
	}
}

// pickEmails chooses the address whose id is primary_email_address_id,
// falling back to the first address, and returns every address with the
// primary first (the web client shows emails[0]).
func pickEmails(u clerkUser) (primary string, emails []string) {
	for _, e := range u.EmailAddresses {
		if e.EmailAddress == "" {
			continue
		}
		if !slices.Contains(emails, e.EmailAddress) {
			emails = append(emails, e.EmailAddress)
		}
		if primary == "" && u.PrimaryEmailAddressID != "" && e.ID == u.PrimaryEmailAddressID {
			primary = e.EmailAddress
		}
	}
	if len(emails) == 0 {
		return "", []string{}
	}
	if primary == "" {
		primary = emails[0]
	}
	ordered := make([]string, 0, len(emails))
	ordered = append(ordered, primary)
	for _, e := range emails {
		if e != primary {
			ordered = append(ordered, e)
		}
	}
	return primary, ordered
}

// oauthProviders lists the distinct providers of the external accounts in
// Clerk's order, each with the oauth_ prefix (older payloads send the bare
// provider name, e.g. "google").
func oauthProviders(accounts []clerkExternalAccount) []string {
	out := []string{}
	for _, a := range accounts {
		p := strings.TrimSpace(a.Provider)
		if p == "" {
			continue
		}
		if !strings.HasPrefix(p, oauthPrefix) {
			p = oauthPrefix + p
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// pickProfileImage prefers the first external account's picture (what the
// user chose at their OAuth provider) over Clerk's own image.
func pickProfileImage(u clerkUser, first *clerkExternalAccount) string {
	var candidates []string
	if first != nil {
		candidates = append(candidates, first.ImageURL, first.AvatarURL)
	}
	candidates = append(candidates, u.ImageURL, u.ProfileImageURL)
	for _, c := range candidates {
		if c != "" {
			return c
		}
	}
	return ""
}

// eventTimes converts Clerk's epoch milliseconds to UTC times. A missing
// updated_at falls back to created_at (and vice versa), and both missing to
// now, so the document never gets year-1 dates.
func eventTimes(createdMS, updatedMS int64, now time.Time) (created, updated time.Time) {
	if createdMS <= 0 {
		createdMS = updatedMS
	}
	if updatedMS <= 0 {
		updatedMS = createdMS
	}
	if createdMS <= 0 {
		n := now.UTC().Truncate(time.Millisecond)
		return n, n
	}
	return time.UnixMilli(createdMS).UTC(), time.UnixMilli(updatedMS).UTC()
}
