package httpapi

import (
	"net/http"
	"time"

	"github.com/nonefinity/backend/contracts/rpcerr"
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
	if a.users == nil {
		a.reject(w, rpcerr.New(rpcerr.Unavailable, "user directory unavailable"))
		return
	}
	c, _ := callerFrom(r.Context())
	ctx, cancel := a.callCtx(r)
	defer cancel()
	u, err := a.users.Get(ctx, c.identity.UserID)
	a.reply(w, r, http.StatusOK, "current user", u, err)
}

// createTokenQuery is the query of GET /auth/create-token.
type createTokenQuery struct {
	ClerkID string `form:"clerk_id" json:"clerk_id" doc:"Clerk user id the token is for" example:"user_1"`
	Role    string `form:"role" json:"role,omitempty" doc:"admin adds the role claim" enum:"user,admin"`
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request) {
	var q createTokenQuery
	if e := bindQuery(r, &q); e != nil {
		a.reject(w, e)
		return
	}
	if q.ClerkID == "" {
		a.reject(w, rpcerr.Invalid("clerk_id", "required"))
		return
	}
	ctx, cancel := a.callCtx(r)
	defer cancel()
	tok, err := a.minter.Mint(ctx, q.ClerkID, q.Role)
	a.reply(w, r, http.StatusOK, "token created", tok, err)
}
