package webhook

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nonefinity/backend/pkg/testkit"
)

func sampleClerkUser(t *testing.T) clerkUser {
	t.Helper()
	raw, err := os.ReadFile(testkit.Testdata("user_created.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev clerkEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	var u clerkUser
	if err := json.Unmarshal(ev.Data, &u); err != nil {
		t.Fatal(err)
	}
	return u
}

var now = time.Date(2025, 6, 1, 12, 0, 0, 987654321, time.UTC)

func TestToProfileFromARealisticPayload(t *testing.T) {
	p := toProfile(sampleClerkUser(t), now)
	if p.ClerkID != "user_2hAda000000000000000000000" {
		t.Errorf("clerk id %q", p.ClerkID)
	}
	if p.PrimaryEmail != "ada@example.com" || !slices.Equal(p.Emails, []string{"ada@example.com", "ada.work@example.org"}) {
		t.Errorf("primary %q emails %v; want the primary id's address first", p.PrimaryEmail, p.Emails)
	}
	if !slices.Equal(p.OAuthProviders, []string{"oauth_google", "oauth_github"}) {
		t.Errorf("providers %v", p.OAuthProviders)
	}
	if p.ProfileImage != "https://img.clerk.com/ada-google" || !p.HasImage {
		t.Errorf("image %q has_image %v; want the first external account's image_url", p.ProfileImage, p.HasImage)
	}
	if p.FirstName != "Ada" || p.LastName != "Lovelace" || p.Username != "" || p.Banned {
		t.Errorf("names/banned: %+v", p)
	}
	if !p.CreatedAt.Equal(time.UnixMilli(1716883200123)) || !p.UpdatedAt.Equal(time.UnixMilli(1716883200456)) ||
		p.CreatedAt.Location() != time.UTC {
		t.Errorf("times %s %s; want Clerk's epoch milliseconds in UTC", p.CreatedAt, p.UpdatedAt)
	}
}

func TestPickEmails(t *testing.T) {
	addr := func(id, email string) clerkEmailAddress { return clerkEmailAddress{ID: id, EmailAddress: email} }
	for _, tc := range []struct {
		name        string
		u           clerkUser
		wantPrimary string
		wantEmails  []string
	}{
		{"primary by id moves first", clerkUser{PrimaryEmailAddressID: "b", EmailAddresses: []clerkEmailAddress{addr("a", "a@x"), addr("b", "b@x"), addr("c", "c@x")}}, "b@x", []string{"b@x", "a@x", "c@x"}},
		{"no primary id falls back to first", clerkUser{EmailAddresses: []clerkEmailAddress{addr("a", "a@x"), addr("b", "b@x")}}, "a@x", []string{"a@x", "b@x"}},
		{"unknown primary id falls back to first", clerkUser{PrimaryEmailAddressID: "zz", EmailAddresses: []clerkEmailAddress{addr("a", "a@x"), addr("b", "b@x")}}, "a@x", []string{"a@x", "b@x"}},
		{"primary id of an empty address falls back", clerkUser{PrimaryEmailAddressID: "a", EmailAddresses: []clerkEmailAddress{addr("a", ""), addr("b", "b@x")}}, "b@x", []string{"b@x"}},
		{"duplicates kept once", clerkUser{PrimaryEmailAddressID: "b", EmailAddresses: []clerkEmailAddress{addr("a", "a@x"), addr("b", "a@x")}}, "a@x", []string{"a@x"}},
		{"no addresses", clerkUser{}, "", []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			primary, emails := pickEmails(tc.u)
			if primary != tc.wantPrimary || !slices.Equal(emails, tc.wantEmails) || emails == nil {
				t.Fatalf("got %q %#v, want %q %#v", primary, emails, tc.wantPrimary, tc.wantEmails)
			}
		})
	}
}

func TestOAuthProviders(t *testing.T) {
	got := oauthProviders([]clerkExternalAccount{{Provider: "oauth_google"}, {Provider: "github"}, {Provider: ""}, {Provider: "oauth_google"}, {Provider: "oauth_github"}})
	if !slices.Equal(got, []string{"oauth_google", "oauth_github"}) {
		t.Fatalf("got %v", got)
	}
	if got := oauthProviders(nil); got == nil || len(got) != 0 {
		t.Fatalf("no accounts: %#v, want an empty list", got)
	}
}

func TestPickProfileImageAndUsername(t *testing.T) {
	for _, tc := range []struct {
		name         string
		u            clerkUser
		wantImage    string
		wantUsername string
	}{
		{"external image_url first", clerkUser{ImageURL: "u", ExternalAccounts: []clerkExternalAccount{{ImageURL: "e", AvatarURL: "a"}}}, "e", ""},
		{"external avatar_url next", clerkUser{ImageURL: "u", ExternalAccounts: []clerkExternalAccount{{AvatarURL: "a"}}}, "a", ""},
		{"only the first external account counts", clerkUser{ImageURL: "u", ExternalAccounts: []clerkExternalAccount{{}, {ImageURL: "second"}}}, "u", ""},
		{"user image_url", clerkUser{ImageURL: "u", ProfileImageURL: "p"}, "u", ""},
		{"profile_image_url last", clerkUser{ProfileImageURL: "p"}, "p", ""},
		{"username from the first external account", clerkUser{ExternalAccounts: []clerkExternalAccount{{Username: "gh"}}}, "", "gh"},
		{"own username wins", clerkUser{Username: "own", ExternalAccounts: []clerkExternalAccount{{Username: "gh"}}}, "", "own"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := toProfile(tc.u, now)
			if p.ProfileImage != tc.wantImage || p.Username != tc.wantUsername {
				t.Fatalf("image %q username %q, want %q %q", p.ProfileImage, p.Username, tc.wantImage, tc.wantUsername)
			}
		})
	}
}

func TestEventTimes(t *testing.T) {
	ms := func(v int64) time.Time { return time.UnixMilli(v).UTC() }
	nowMS := now.Truncate(time.Millisecond)
	for _, tc := range []struct {
		name                 string
		created, updated     int64
		wantCreated, wantUpd time.Time
	}{
		{"both", 1000, 2000, ms(1000), ms(2000)},
		{"no updated_at", 1000, 0, ms(1000), ms(1000)},
		{"no created_at", 0, 2000, ms(2000), ms(2000)},
		{"neither", 0, 0, nowMS, nowMS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, u := eventTimes(tc.created, tc.updated, now)
			if !c.Equal(tc.wantCreated) || !u.Equal(tc.wantUpd) {
				t.Fatalf("got %s %s, want %s %s", c, u, tc.wantCreated, tc.wantUpd)
			}
		})
	}
}

func TestParseSecrets(t *testing.T) {
	if got := ParseSecrets(" whsec_a , ,whsec_b,"); !slices.Equal(got, []string{"whsec_a", "whsec_b"}) {
		t.Fatalf("got %v", got)
	}
	if got := ParseSecrets(""); len(got) != 0 {
		t.Fatalf("empty: %v", got)
	}
	if _, err := newVerifier([]string{"whsec_!!notbase64!!"}); err == nil {
		t.Fatal("a malformed secret was accepted")
	} else if strings.Contains(err.Error(), "notbase64") {
		t.Fatalf("the error shows the secret: %v", err)
	}
}
