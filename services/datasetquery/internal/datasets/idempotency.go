package datasets

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// ConvertRequest is what a conversion is asked with.
type ConvertRequest struct {
	FileID, Name, Description string
	Options                   ConvertOptions
	// IdempotencyKey, when set, names the request for its retries: a
	// client that lost the answer (the instance serving it died, the
	// connection broke) sends the same request with the same key and gets
	// the dataset the first one made, whatever state it is in, instead of
	// a second conversion or a 409.
	IdempotencyKey string
}

// MaxIdempotencyKeyLength bounds an idempotency key (UUIDs and request
// hashes fit many times over).
const MaxIdempotencyKeyLength = 255

// fingerprint sums up what the request asks for, so that a retry can be
// told from another request reusing its key or its name. Whether the
// caller waits (async) is not part of it: it does not change the dataset.
func (r ConvertRequest) fingerprint() string {
	b, err := json.Marshal(struct {
		FileID, Name, Description string
		Options                   ConvertOptions
	}{r.FileID, r.Name, r.Description, r.Options})
	if err != nil {
		// Strings, bools, ints and pointers to them always encode.
		panic(fmt.Sprintf("encode convert request: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// validateIdempotencyKey accepts what RFC 9110 allows in a header value
// that needs no quoting: visible ASCII, no spaces, at most
// MaxIdempotencyKeyLength bytes.
func validateIdempotencyKey(key string) error {
	if len(key) > MaxIdempotencyKeyLength {
		return invalid("idempotency_key", fmt.Sprintf("at most %d characters", MaxIdempotencyKeyLength))
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] > '~' {
			return invalid("idempotency_key", "visible ASCII characters only")
		}
	}
	return nil
}

// replay answers a request whose key an earlier request used: with that
// request's dataset when it asked for the same, else a validation error,
// since the key cannot name two different requests.
func replay(prev Dataset, r ConvertRequest) (Dataset, error) {
	if prev.RequestFingerprint != r.fingerprint() {
		return Dataset{}, invalid("idempotency_key", "this key was used for a different request (dataset "+prev.ID+"); use a new key for a new request")
	}
	return prev, nil
}
