package httpapi

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/nonefinity/backend/contracts/healthv1"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/natsx"
)

// readyTimeout is how long /ready waits for each service's health reply.
const readyTimeout = time.Second

// health answers as long as the process can serve HTTP at all.
func (a *API) health(w http.ResponseWriter, r *http.Request) {
	writeOK(w, a.log, http.StatusOK, "ok", healthReply{Status: "ok", Service: "gateway", Version: a.version})
}

// ready checks NATS and asks every backing service for its health, in
// parallel, each under readyTimeout; a service that does not answer, or
// answers degraded, is named in the 503.
func (a *API) ready(w http.ResponseWriter, r *http.Request) {
	status := map[string]string{}
	if a.nc.Status() != nats.CONNECTED {
		writeError(w, a.log, "not ready", rpcerr.Field(rpcerr.Unavailable, "nats", "NATS is not connected"))
		return
	}
	status["nats"] = "ok"

	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, svc := range a.services {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			reply, err := natsx.Call[healthv1.Reply](ctx, a.client, healthv1.Subject(svc), healthv1.Request{})
			state := reply.Status
			if err != nil {
				state = "unavailable"
			}
			mu.Lock()
			status[svc] = state
			mu.Unlock()
		})
	}
	wg.Wait()

	var errs []*rpcerr.Error
	for _, svc := range a.services {
		if status[svc] != healthv1.StatusOK {
			errs = append(errs, rpcerr.Field(rpcerr.Unavailable, svc, svc+" service is "+status[svc]))
		}
	}
	if len(errs) > 0 {
		sort.Slice(errs, func(i, j int) bool { return errs[i].Field < errs[j].Field })
		writeError(w, a.log, "not ready", errs...)
		return
	}
	writeOK(w, a.log, http.StatusOK, "ready", status)
}
