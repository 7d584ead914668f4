package httpapi

import (
	"context"
	"net/http"

	"github.com/nonefinity/backend/contracts/paging"
	"github.com/nonefinity/backend/contracts/rpcerr"
)

// A decoder builds one route's service request from the HTTP request, or
// says why the gateway refuses it before any service call.
type decoder[Req any] func(http.ResponseWriter, *http.Request) (Req, *rpcerr.Error)

// serveCall is the pipeline of a route that is one service call: decode,
// call under the request deadline, write the reply or error envelope.
func serveCall[Req, Resp any](a *API, w http.ResponseWriter, r *http.Request, decode decoder[Req], call func(context.Context, Req) (Resp, error), status int, message string) {
	req, e := decode(w, r)
	if e != nil {
		a.reject(w, e)
		return
	}
	ctx, cancel := a.callCtx(r)
	defer cancel()
	reply, err := call(ctx, req)
	a.reply(w, r, status, message, reply, err)
}

// serveNoInput is serveCall for a service call that takes no request.
func serveNoInput[Resp any](a *API, w http.ResponseWriter, r *http.Request, call func(context.Context) (Resp, error), status int, message string) {
	ctx, cancel := a.callCtx(r)
	defer cancel()
	reply, err := call(ctx)
	a.reply(w, r, status, message, reply, err)
}

// servePage is the pipeline of a paged list route: bind and check the
// paging query, one service call for that window, then what data makes of
// the reply (the envelope's data and the total) with the page meta.
func servePage[Resp any](a *API, w http.ResponseWriter, r *http.Request, call func(context.Context, paging.Page) (Resp, error), data func(Resp) (any, int), message string) {
	var q pageQuery
	if e := bindQuery(r, &q); e != nil {
		a.reject(w, e)
		return
	}
	page := q.window()
	ctx, cancel := a.callCtx(r)
	defer cancel()
	reply, err := call(ctx, page)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	body, total := data(reply)
	writePage(w, a.log, message, body, pageMeta(page, total))
}

// fromBody decodes the request body as the service request itself.
func fromBody[Req any](w http.ResponseWriter, r *http.Request) (Req, *rpcerr.Error) {
	var req Req
	e := bindBody(w, r, &req)
	return req, e
}

// byID builds the service request from the ObjectId in path parameter
// param; what names the resource in the 404.
func byID[Req any](param, what string, build func(id string) Req) decoder[Req] {
	return func(_ http.ResponseWriter, r *http.Request) (Req, *rpcerr.Error) {
		var req Req
		id, e := pathID(r, param, what)
		if e != nil {
			return req, e
		}
		return build(id), nil
	}
}

// byIDAndBody is byID for a route that also takes a body; the path id is
// checked before the body is read.
func byIDAndBody[Body, Req any](param, what string, build func(id string, body Body) Req) decoder[Req] {
	return func(w http.ResponseWriter, r *http.Request) (Req, *rpcerr.Error) {
		var req Req
		id, e := pathID(r, param, what)
		if e != nil {
			return req, e
		}
		var body Body
		if e := bindBody(w, r, &body); e != nil {
			return req, e
		}
		return build(id, body), nil
	}
}

// byIDAndQuery is byID for a route that also takes a query; the path id is
// checked before the query is read.
func byIDAndQuery[Query, Req any](param, what string, build func(id string, q Query) Req) decoder[Req] {
	return func(_ http.ResponseWriter, r *http.Request) (Req, *rpcerr.Error) {
		var req Req
		id, e := pathID(r, param, what)
		if e != nil {
			return req, e
		}
		var q Query
		if e := bindQuery(r, &q); e != nil {
			return req, e
		}
		return build(id, q), nil
	}
}

// byDatasetAndFile builds the service request from the dataset id and file
// id of /datasets/{id}/.../{file_id}, checked in that order.
func byDatasetAndFile[Req any](build func(id, fileID string) Req) decoder[Req] {
	return func(_ http.ResponseWriter, r *http.Request) (Req, *rpcerr.Error) {
		var req Req
		id, e := pathID(r, "id", "dataset")
		if e != nil {
			return req, e
		}
		fileID, e := pathID(r, "file_id", "file")
		if e != nil {
			return req, e
		}
		return build(id, fileID), nil
	}
}
