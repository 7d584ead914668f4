package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/services/gateway/internal/access"
	"github.com/nonefinity/backend/services/gateway/internal/sseticket"
)

// EventTickets issues the single-use tickets of GET /api/v1/events (see
// sseticket): the way a browser's EventSource, which cannot send an
// Authorization header, authenticates.
type EventTickets interface {
	Issue(ctx context.Context, userID string) (sseticket.Ticket, error)
	// Redeem uses a ticket up; an error wrapping sseticket.ErrInvalid means
	// it is not (or no longer) good, any other that the store failed.
	Redeem(ctx context.Context, ticket string) (userID string, err error)
}

// eventsTicket answers POST /events/ticket.
func (a *API) eventsTicket(w http.ResponseWriter, r *http.Request) {
	c, _ := callerFrom(r.Context())
	t, err := a.tickets.Issue(r.Context(), c.identity.UserID)
	if err != nil {
		a.log.WarnContext(r.Context(), "issue event stream ticket", "err", err)
		a.reject(w, rpcerr.New(rpcerr.Unavailable, "event stream tickets are unavailable"))
		return
	}
	writeOK(w, a.log, http.StatusCreated, "ticket issued", t)
}

// authenticateEvents admits GET /events either by a ticket, when the query
// names one, or by the bearer token like every other route. A ticket
// authenticates as the user it was issued to and nobody else; it is used up
// whether the stream then opens or not.
func (a *API) authenticateEvents(next http.Handler) http.Handler {
	bearer := a.authenticate(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.Query().Has(sseticket.QueryParam) {
			bearer.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		userID, err := a.tickets.Redeem(ctx, r.URL.Query().Get(sseticket.QueryParam))
		if errors.Is(err, sseticket.ErrInvalid) {
			a.unauthorized(w, "invalid or expired ticket")
			return
		}
		if err != nil {
			a.log.WarnContext(ctx, "redeem event stream ticket", "err", err)
			a.reject(w, rpcerr.New(rpcerr.Unavailable, "event stream tickets are unavailable"))
			return
		}
		next.ServeHTTP(w, admit(r, caller{identity: Identity{UserID: userID}, role: contracts.RoleUser, grant: access.Session()}))
	})
}
