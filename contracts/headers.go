package contracts

// NATS message headers that carry request metadata between the gateway and the
// services. Services trust them only because NATS permissions keep everyone
// but the gateway off svc.>.
const (
	HeaderUserID      = "Nf-User-Id"
	HeaderUserRole    = "Nf-User-Role"
	HeaderRequestID   = "Nf-Request-Id"
	HeaderTraceparent = "traceparent"
	// HeaderDeadline is the caller's deadline as RFC 3339 with nanoseconds, so
	// a service stops working on a request nobody waits for any more.
	HeaderDeadline = "Nf-Deadline"
	// HeaderMsgID is JetStream's de-duplication header.
	HeaderMsgID = "Nats-Msg-Id"
)

// Roles.
const (
	RoleUser  = "user"
	RoleAdmin = "admin"
)
