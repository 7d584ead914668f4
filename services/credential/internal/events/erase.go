// Package events holds the credential service's JetStream consumers. It
// publishes no events of its own.
package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/userv1"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/services/credential/internal/credential"
)

// Eraser deletes every credential of a user.
type Eraser interface {
	EraseOwner(ctx context.Context, ownerID string) (int64, error)
}

// StartErasure consumes evt.user.v1.deleted.<user_id> with a durable
// consumer and hard-deletes every credential of that user. Deleting is
// idempotent, so a redelivery does no harm; the message is acknowledged
// only once the delete is stored.
func StartErasure(ctx context.Context, js jetstream.JetStream, eraser Eraser, log *slog.Logger) (*natsx.Consumer, error) {
	c, err := natsx.Consume(ctx, js, natsx.ConsumerOptions{
		Stream:         contracts.StreamUsers,
		Durable:        contracts.DurableCredentialUserErase,
		FilterSubjects: []string{contracts.EventFilter(contracts.DomainUser, contracts.EventDeleted)},
		HandlerTimeout: time.Minute,
		Logger:         log,
	}, func(ctx context.Context, d natsx.Delivery[userv1.UserDeleted]) error {
		userID := contracts.UserIDFromSubject(d.Subject)
		if userID == "" {
			return natsx.Permanent(errors.New("user deleted event without a user id"))
		}
		if d.Data.UserID != "" && d.Data.UserID != userID {
			return natsx.Permanent(fmt.Errorf("user deleted event for %s carries user id %s", userID, d.Data.UserID))
		}
		n, err := eraser.EraseOwner(ctx, userID)
		if err != nil {
			return fmt.Errorf("erase credentials of user %s: %w", userID, err)
		}
		log.InfoContext(ctx, "erased the credentials of a deleted user", "user_id", userID, "deleted", n)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("start user erasure consumer: %w", err)
	}
	return c, nil
}

var _ Eraser = (*credential.Service)(nil)
