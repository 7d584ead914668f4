// Package events holds the credential service's JetStream consumers and
// the broadcast that keeps every instance's provider catalogue current. It
// publishes no events about users' data.
package events

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/services/credential/internal/credential"
)

// Eraser is what the erasure consumer needs from the core.
type Eraser interface {
	EraseUser(ctx context.Context, userID string) error
}

var _ Eraser = (*credential.Service)(nil)

// StartErasure runs the durable consumer that hard-deletes a deleted user's
// credentials (evt.user.v1.deleted.*), retrying until it succeeds (see
// natsx.ConsumeErasure).
func StartErasure(ctx context.Context, js jetstream.JetStream, e Eraser, o natsx.ErasureOptions) (*natsx.Consumer, error) {
	o.Durable = contracts.DurableCredentialUserErase
	return natsx.ConsumeErasure(ctx, js, o, e.EraseUser)
}
