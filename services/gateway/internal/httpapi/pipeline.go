package httpapi

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/nonefinity/backend/contracts/paging"
	"github.com/nonefinity/backend/contracts/rpcerr"
)

// A decoder builds one route's service request from the HTTP request, or
// says why the gateway refuses it before any service call.
type decoder[Req any] func(http.ResponseWriter, *http.Request) (Req, *rpcerr.Error)

// An answer is a route's success response: its status and the envelope's
// message and data.
type answer struct {
	status  int
	message string
	data    any
}

// serveCall is the pipeline of a route that is one service call: decode,
// call under the request deadline, then the error envelope, or the success
// envelope answering status and message with the reply as data, as shape
// has it for this reply.
func serveCall[Req, Resp any](a *API, w http.ResponseWriter, r *http.Request, decode decoder[Req],
	call func(context.Context, Req) (Resp, error), status int, message string, shape func(Resp, answer) answer) {
	req, e := decode(w, r)
	if e != nil {
		a.reject(w, e)
		return
	}
	ctx, cancel := a.callCtx(r)
	defer cancel()
	reply, err := call(ctx, req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ans := shape(reply, answer{status: status, message: message, data: reply})
	writeOK(w, a.log, ans.status, ans.message, ans.data)
}

// asIs is the shape of most routes: the reply is the data.
func asIs[Resp any](_ Resp, ans answer) answer { return ans }

// serveNoInput is serveCall for a service call that takes no request.
func serveNoInput[Resp any](a *API, w http.ResponseWriter, r *http.Request, call func(context.Context) (Resp, error),
	status int, message string, shape func(Resp, answer) answer) {
	serveCall(a, w, r, noInput, func(ctx context.Context, _ struct{}) (Resp, error) { return call(ctx) }, status, message, shape)
}

// noInput is the decoder of a route whose call takes no request.
func noInput(http.ResponseWriter, *http.Request) (struct{}, *rpcerr.Error) { return struct{}{}, nil }

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

// fromQuery decodes the query string as the service request itself.
func fromQuery[Req any](_ http.ResponseWriter, r *http.Request) (Req, *rpcerr.Error) {
	var req Req
	e := bindQuery(r, &req)
	return req, e
}

// byQuery builds the service request from the route's query Q.
func byQuery[Q, Req any](build func(q Q) Req) decoder[Req] {
	return func(_ http.ResponseWriter, r *http.Request) (Req, *rpcerr.Error) {
		var q Q
		if e := bindQuery(r, &q); e != nil {
			var req Req
			return req, e
		}
		return build(q), nil
	}
}

// byParam builds the service request from path parameter param, taken as
// it is: the service decides what it names.
func byParam[Req any](param string, build func(value string) Req) decoder[Req] {
	return func(_ http.ResponseWriter, r *http.Request) (Req, *rpcerr.Error) {
		return build(chi.URLParam(r, param)), nil
	}
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
