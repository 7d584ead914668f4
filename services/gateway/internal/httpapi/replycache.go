package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// providersFreshFor is how long the gateway answers GET /providers from the
// body it last wrote. The credential service serves the catalogue from
// memory already; what remains is this hop: the NATS round trip, decoding
// the reply and encoding the envelope again, two thirds of the route's CPU.
// A refresh through this gateway clears it at once; one through another
// gateway is seen here within this time.
const providersFreshFor = time.Second

// replyCache keeps the written bodies of a public, read-mostly route for a
// moment, by the request that asked for them. A cleared cache refuses the
// bodies of calls that began before it was cleared, so a refresh is never
// undone by a slower list that read the old catalogue.
type replyCache struct {
	freshFor time.Duration
	now      func() time.Time

	mu      sync.RWMutex
	gen     uint64
	entries map[string]cachedBody
}

type cachedBody struct {
	body  []byte
	until time.Time
}

func newReplyCache(freshFor time.Duration, now func() time.Time) *replyCache {
	return &replyCache{freshFor: freshFor, now: now, entries: map[string]cachedBody{}}
}

// get returns the body kept for key while it is fresh, and otherwise the
// generation a call for it must hand to put.
func (c *replyCache) get(key string) (body []byte, gen uint64, ok bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[key]
	if ok && c.now().Before(e.until) {
		return e.body, c.gen, true
	}
	return nil, c.gen, false
}

// put keeps body for key unless the cache was cleared since gen.
func (c *replyCache) put(key string, gen uint64, body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen == c.gen {
		c.entries[key] = cachedBody{body: body, until: c.now().Add(c.freshFor)}
	}
}

// clear drops every body.
func (c *replyCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.entries)
}

// envelopeOK is the body writeOK writes.
func envelopeOK(message string, data any) ([]byte, error) {
	var buf bytes.Buffer
	err := json.NewEncoder(&buf).Encode(Envelope{Success: true, Message: message, Data: data})
	return buf.Bytes(), err
}

// writeBody writes an encoded JSON body with status.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
