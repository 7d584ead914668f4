package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/contracts/userv1"
)

// tokenInfo is the data of GET /auth/verify-token: the verified claims, the
// effective role and the internal user id they map to.
type tokenInfo struct {
	Subject         string    `json:"sub" doc:"Clerk user id"`
	Issuer          string    `json:"iss"`
	SessionID       string    `json:"sid,omitempty"`
	AuthorizedParty string    `json:"azp,omitempty"`
	Role            string    `json:"role" enum:"user,admin"`
	UserID          string    `json:"user_id" doc:"Internal user id"`
	IssuedAt        time.Time `json:"iat,omitzero"`
	ExpiresAt       time.Time `json:"exp,omitzero"`
}

func (a *API) verifyToken(w http.ResponseWriter, r *http.Request) {
	c, _ := callerFrom(r.Context())
	p := c.principal
	writeOK(w, a.log, http.StatusOK, "token is valid", tokenInfo{
		Subject: p.Subject, Issuer: p.Issuer, SessionID: p.SessionID, AuthorizedParty: p.AuthorizedParty,
		Role: c.role, UserID: c.identity.UserID, IssuedAt: p.IssuedAt, ExpiresAt: p.ExpiresAt,
	})
}

func (a *API) me(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, a.callerID, func(ctx context.Context, userID string) (userv1.User, error) {
		return a.users.Get(ctx, userID)
	}, http.StatusOK, "current user", asIs)
}

// callerID is the caller's internal user id, when there is a user
// directory to look it up in.
func (a *API) callerID(_ http.ResponseWriter, r *http.Request) (string, *rpcerr.Error) {
	if a.users == nil {
		return "", rpcerr.New(rpcerr.Unavailable, "user directory unavailable")
	}
	c, _ := callerFrom(r.Context())
	return c.identity.UserID, nil
}

// createTokenQuery is the query of GET /auth/create-token.
type createTokenQuery struct {
	ClerkID string `form:"clerk_id" json:"clerk_id" doc:"Clerk user id the token is for" example:"user_1"`
	Role    string `form:"role" json:"role,omitempty" doc:"admin adds the role claim" enum:"user,admin"`
}

// validate requires the user the token is for.
func (q *createTokenQuery) validate() *rpcerr.Error {
	if q.ClerkID == "" {
		return rpcerr.Invalid("clerk_id", "required")
	}
	return nil
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, fromQuery, func(ctx context.Context, q createTokenQuery) (MintedToken, error) {
		return a.minter.Mint(ctx, q.ClerkID, q.Role)
	}, http.StatusOK, "token created", asIs)
}
