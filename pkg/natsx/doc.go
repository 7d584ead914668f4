// Package natsx is what every service needs from NATS: a connection that
// reconnects forever, request metadata carried in headers, a typed adapter
// over nats.go/micro for request-reply endpoints with a matching client, and
// JetStream helpers for idempotent stream setup, de-duplicated publishing and
// durable consumers that acknowledge only finished work.
//
// Errors cross the wire in one shape, contracts/rpcerr: an endpoint returns an
// *rpcerr.Error and the caller's Client.Request returns an equal one. Any other
// error is logged once with an error id and answered with a generic internal
// error, so a raw error text never leaves the service.
package natsx
