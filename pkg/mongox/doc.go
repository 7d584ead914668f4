// Package mongox is the MongoDB foundation every store builds on: Connect
// (mongo-driver v2, pinged before use, password never in errors or logs),
// EnsureIndexes at startup, and the small error vocabulary stores need
// (IsDuplicateKey, IsUnavailable, ErrUnavailable, CoreErrors)
// so that a dead database or a taken name reaches the core as its own
// sentinel, never as a driver error the caller would see as a 500. It knows
// nothing of the wire: each service's natsapi maps its core's sentinels to
// rpcerr codes.
//
// The same code runs against MongoDB 7 and against FerretDB v1.24.2 (the
// embedded default). FerretDB v1 lacks TTL, partial and text indexes,
// transactions, change streams, $lookup, $facet and $avg in $group, and
// returns 0 for a second $sum in one $group; helpers here stay inside the
// common subset, and EnsureIndexes reports the TTL indexes it could not
// create so the caller sweeps expired documents itself.
package mongox
