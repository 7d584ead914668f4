// Package mongox is the MongoDB foundation every store builds on: Connect
// (mongo-driver v2, pinged before use, password never in errors or logs),
// EnsureIndexes at startup, and the small error vocabulary stores need
// (ParseID, IsDuplicateKey, IsUnavailable, MapError) so that a malformed id
// is a 404 and a dead database is a 503, never a 500.
//
// The same code runs against MongoDB 7 and against FerretDB v1.24.2 (the
// embedded default). FerretDB v1 lacks TTL, partial and text indexes,
// transactions, change streams, $lookup, $facet and $avg in $group, and
// returns 0 for a second $sum in one $group; helpers here stay inside the
// common subset, and EnsureIndexes reports the TTL indexes it could not
// create so the caller sweeps expired documents itself.
package mongox
