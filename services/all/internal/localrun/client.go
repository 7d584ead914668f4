package localrun

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"
)

// Client is one signed-in user of the gateway's HTTP API. Each user has
// its own transport, so one user's connections never queue another's
// requests inside the measuring program: what a user waits for is the
// server.
type Client struct {
	Base  string // http://127.0.0.1:port/api/v1
	Token string
	HTTP  *http.Client
	Sent  atomic.Int64 // requests sent
}

// NewHTTPClient is a keep-alive client for up to 64 connections to one
// host, with no deadline of its own.
func NewHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 128
	t.MaxIdleConnsPerHost = 64
	// Per-request deadlines come from contexts; the client has none of its
	// own, so an SSE stream can stay open for a whole phase.
	return &http.Client{Transport: t}
}

// Answer is one HTTP response, read whole.
type Answer struct {
	Status int
	Body   []byte
}

// OK reports a 2xx.
func (a Answer) OK() bool { return a.Status >= 200 && a.Status < 300 }

// envelope is the gateway's response envelope (API.md).
type envelope struct {
	Success bool            `json:"success"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// Decode reads the envelope's data into out.
func (a Answer) Decode(out any) error {
	var env envelope
	if err := json.Unmarshal(a.Body, &env); err != nil {
		return fmt.Errorf("envelope of a %d answer: %w", a.Status, err)
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return fmt.Errorf("data of a %d answer: %w", a.Status, err)
	}
	return nil
}

// String is the status and the start of the body, for failure reports.
func (a Answer) String() string {
	body := a.Body
	if len(body) > 300 {
		body = append(body[:300:300], "…"...)
	}
	return strconv.Itoa(a.Status) + " " + string(body)
}

// RequestTimeout bounds one API call; the gateway's own deadline (30 s)
// ends every call sooner unless the gateway hangs.
const RequestTimeout = 2 * time.Minute

// Do sends one request with the user's token and reads the whole answer.
func (c *Client) Do(ctx context.Context, method, path string, body io.Reader, contentType string) (Answer, error) {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err != nil {
		return Answer{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	c.Sent.Add(1)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return Answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Answer{}, err
	}
	return Answer{Status: resp.StatusCode, Body: b}, nil
}

// Get is a GET of path.
func (c *Client) Get(ctx context.Context, path string) (Answer, error) {
	return c.Do(ctx, http.MethodGet, path, nil, "")
}

// Del is a DELETE of path.
func (c *Client) Del(ctx context.Context, path string) (Answer, error) {
	return c.Do(ctx, http.MethodDelete, path, nil, "")
}

// Form posts v as application/x-www-form-urlencoded.
func (c *Client) Form(ctx context.Context, path string, v url.Values) (Answer, error) {
	return c.Do(ctx, http.MethodPost, path, bytes.NewReader([]byte(v.Encode())), "application/x-www-form-urlencoded")
}

// JSON sends v as a JSON body.
func (c *Client) JSON(ctx context.Context, method, path string, v any) (Answer, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Answer{}, err
	}
	return c.Do(ctx, method, path, bytes.NewReader(b), "application/json")
}

// Upload sends data through the gateway's multipart route (field "file").
func (c *Client) Upload(ctx context.Context, fileName, contentType string, data []byte) (Answer, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, fileName))
	h.Set("Content-Type", contentType)
	part, err := mw.CreatePart(h)
	if err != nil {
		return Answer{}, err
	}
	if _, err := part.Write(data); err != nil {
		return Answer{}, err
	}
	if err := mw.Close(); err != nil {
		return Answer{}, err
	}
	return c.Do(ctx, http.MethodPost, "/file/upload", &buf, mw.FormDataContentType())
}

// SignIn mints a dev token for clerkID (APP_ENV=dev, no Clerk issuer).
func SignIn(ctx context.Context, base, clerkID string) (*Client, error) {
	c := &Client{Base: base, HTTP: NewHTTPClient()}
	a, err := c.Get(ctx, "/auth/create-token?"+url.Values{"clerk_id": {clerkID}}.Encode())
	if err != nil {
		return nil, fmt.Errorf("create-token %s: %w", clerkID, err)
	}
	var tok struct {
		Token string `json:"token"`
	}
	if !a.OK() {
		return nil, fmt.Errorf("create-token %s: %s", clerkID, a)
	}
	if err := a.Decode(&tok); err != nil || tok.Token == "" {
		return nil, fmt.Errorf("create-token %s: no token in %s", clerkID, a)
	}
	c.Token = tok.Token
	return c, nil
}
