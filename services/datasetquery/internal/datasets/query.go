package datasets

import (
	"context"

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
)

// Query runs one read-only statement of the owner's over their ready
// datasets (tables named after them) and returns at most limit rows:
// dv1.QueryDefaultLimit when limit is not positive, never more than
// dv1.QueryMaxLimit. Errors are the Engine's.
func (s *Service) Query(ctx context.Context, ownerID, query string, limit int) (Result, error) {
	switch {
	case limit <= 0:
		limit = dv1.QueryDefaultLimit
	case limit > dv1.QueryMaxLimit:
		limit = dv1.QueryMaxLimit
	}
	return s.engine.Query(ctx, ownerID, query, limit)
}

// Sessions describes this instance's query sessions, for an admin.
func (s *Service) Sessions() SessionStats { return s.engine.Sessions() }

// CloseExpiredSessions closes this instance's sessions past their TTL now,
// instead of at the next sweep, and says how many.
func (s *Service) CloseExpiredSessions() int { return s.engine.CloseExpired() }
