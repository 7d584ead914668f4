package userv1

import (
	"time"

	"github.com/nonefinity/backend/contracts"
)

// UserCreated is published on evt.user.v1.created.<user_id> when Clerk's
// user.created webhook stored the user's profile. A user first seen on an
// authenticated request has a placeholder document until then, announced by
// nothing: Clerk's event, not our first sight, is the one creation.
type UserCreated struct {
	User User `json:"user"`
}

// Subject is the subject this event is published on.
func (e UserCreated) Subject() string {
	return contracts.EventSubject(contracts.DomainUser, contracts.EventCreated, e.User.ID)
}

// UserUpdated is published on evt.user.v1.updated.<user_id> after a Clerk
// user.updated changed the stored document.
type UserUpdated struct {
	User User `json:"user"`
}

// Subject is the subject this event is published on.
func (e UserUpdated) Subject() string {
	return contracts.EventSubject(contracts.DomainUser, contracts.EventUpdated, e.User.ID)
}

// UserDeleted is published on evt.user.v1.deleted.<user_id> after Clerk
// deleted the user; every service then erases what it holds for UserID.
type UserDeleted struct {
	UserID    string    `json:"user_id"`
	ClerkID   string    `json:"clerk_id"`
	DeletedAt time.Time `json:"deleted_at"`
}

// Subject is the subject this event is published on.
func (e UserDeleted) Subject() string {
	return contracts.EventSubject(contracts.DomainUser, contracts.EventDeleted, e.UserID)
}
