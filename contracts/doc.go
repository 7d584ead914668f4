// Package contracts holds what the services share about each other: NATS
// subjects, stream and durable names, header names, and (in sub-packages) the
// request, reply and event types and the rpcerr error model. Nothing here knows
// how a service is implemented.
package contracts
