package userv1_test

import (
	"encoding/json"
	"flag"
	"testing"
	"time"

	"github.com/nonefinity/backend/contracts/internal/golden"
	"github.com/nonefinity/backend/contracts/userv1"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current types")

var (
	created = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	updated = time.Date(2025, 6, 1, 12, 0, 0, 123000000, time.UTC)
)

func sampleUser() userv1.User {
	return userv1.User{
		ID:             "65f2a1b3c4d5e6f708192a3b",
		ClerkID:        "user_2abcDEF123",
		Emails:         []string{"ada@example.com", "ada.l@example.org"},
		PrimaryEmail:   "ada@example.com",
		Username:       "ada",
		FirstName:      "Ada",
		LastName:       "Lovelace",
		HasImage:       true,
		ProfileImage:   "https://img.clerk.com/ada.png",
		Banned:         false,
		IsOAuth:        true,
		OAuthProviders: []string{"oauth_google", "oauth_github"},
		CreatedAt:      created,
		UpdatedAt:      updated,
	}
}

func TestWireFormat(t *testing.T) {
	golden.CheckAll(t, []golden.Case{
		{Name: "user", Value: sampleUser()},
		{Name: "user_created", Value: userv1.UserCreated{User: sampleUser()}},
		{Name: "user_updated", Value: userv1.UserUpdated{User: sampleUser()}},
		{Name: "user_deleted", Value: userv1.UserDeleted{
			UserID: "65f2a1b3c4d5e6f708192a3b", ClerkID: "user_2abcDEF123", DeletedAt: updated,
		}},
	}, *update)
}

// A user Clerk knows little about still has lists, not nulls, and omits the
// optional fields rather than sending them empty.
func TestMinimalUserEncoding(t *testing.T) {
	b, err := json.Marshal(userv1.User{ID: "65f2a1b3c4d5e6f708192a3b", ClerkID: "user_1", CreatedAt: created, UpdatedAt: created})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"65f2a1b3c4d5e6f708192a3b","clerk_id":"user_1","emails":[],"has_image":false,"banned":false,` +
		`"is_oauth":false,"oauth_providers":[],"created_at":"2025-03-14T09:26:53Z","updated_at":"2025-03-14T09:26:53Z"}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func TestEventSubjects(t *testing.T) {
	u := sampleUser()
	for _, tc := range []struct {
		got, want string
	}{
		{userv1.UserCreated{User: u}.Subject(), "evt.user.v1.created.65f2a1b3c4d5e6f708192a3b"},
		{userv1.UserUpdated{User: u}.Subject(), "evt.user.v1.updated.65f2a1b3c4d5e6f708192a3b"},
		{userv1.UserDeleted{UserID: u.ID}.Subject(), "evt.user.v1.deleted.65f2a1b3c4d5e6f708192a3b"},
	} {
		if tc.got != tc.want {
			t.Errorf("subject %q, want %q", tc.got, tc.want)
		}
	}
}
