// Package events holds the credential service's JetStream consumers. It
// publishes no events of its own.
package events

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/services/credential/internal/credential"
)

// Eraser deletes every credential of a user.
type Eraser interface {
	EraseOwner(ctx context.Context, ownerID string) (int64, error)
}

// StartErasure consumes evt.user.v1.deleted.<user_id> and hard-deletes every
// credential of that user, retrying until the delete is stored (see
// natsx.ConsumeErasure). Deleting is idempotent, so a redelivery does no
// harm.
func StartErasure(ctx context.Context, js jetstream.JetStream, eraser Eraser, o natsx.ErasureOptions) (*natsx.Consumer, error) {
	o.Durable = contracts.DurableCredentialUserErase
	return natsx.ConsumeErasure(ctx, js, o, func(ctx context.Context, userID string) error {
		if _, err := eraser.EraseOwner(ctx, userID); err != nil {
			return fmt.Errorf("erase credentials: %w", err)
		}
		return nil
	})
}

var _ Eraser = (*credential.Service)(nil)
