package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// apiClient is one signed-in user of the gateway's HTTP API. Each user has
// its own transport, so the attacker's connections never queue the victim's
// requests inside this program: what B waits for is the server.
type apiClient struct {
	base  string // http://127.0.0.1:port/api/v1
	token string
	http  *http.Client
	sent  atomic.Int64 // requests sent
}

func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 128
	t.MaxIdleConnsPerHost = 64
	// Per-request deadlines come from contexts; the client has none of its
	// own, so an SSE stream can stay open for the whole phase.
	return &http.Client{Transport: t}
}

// answer is one HTTP response, read whole.
type answer struct {
	status int
	body   []byte
}

// ok reports a 2xx.
func (a answer) ok() bool { return a.status >= 200 && a.status < 300 }

// envelope is the gateway's response envelope (API.md).
type envelope struct {
	Success bool            `json:"success"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// decode reads the envelope's data into out.
func (a answer) decode(out any) error {
	var env envelope
	if err := json.Unmarshal(a.body, &env); err != nil {
		return fmt.Errorf("envelope of a %d answer: %w", a.status, err)
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return fmt.Errorf("data of a %d answer: %w", a.status, err)
	}
	return nil
}

// String is the status and the start of the body, for failure reports.
func (a answer) String() string {
	body := a.body
	if len(body) > 300 {
		body = append(body[:300:300], "…"...)
	}
	return strconv.Itoa(a.status) + " " + string(body)
}

// requestTimeout bounds one API call of either user; the gateway's own
// deadline (30 s) ends every call sooner unless the gateway hangs.
const requestTimeout = 2 * time.Minute

func (c *apiClient) do(ctx context.Context, method, path string, body io.Reader, contentType string) (answer, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return answer{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	c.sent.Add(1)
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	return answer{status: resp.StatusCode, body: b}, nil
}

func (c *apiClient) get(ctx context.Context, path string) (answer, error) {
	return c.do(ctx, http.MethodGet, path, nil, "")
}

func (c *apiClient) del(ctx context.Context, path string) (answer, error) {
	return c.do(ctx, http.MethodDelete, path, nil, "")
}

func (c *apiClient) form(ctx context.Context, path string, v url.Values) (answer, error) {
	return c.do(ctx, http.MethodPost, path, bytes.NewReader([]byte(v.Encode())), "application/x-www-form-urlencoded")
}

func (c *apiClient) json(ctx context.Context, method, path string, v any) (answer, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return answer{}, err
	}
	return c.do(ctx, method, path, bytes.NewReader(b), "application/json")
}

// upload sends data through the gateway's multipart route (field "file").
func (c *apiClient) upload(ctx context.Context, fileName, contentType string, data []byte) (answer, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, fileName))
	h.Set("Content-Type", contentType)
	part, err := mw.CreatePart(h)
	if err != nil {
		return answer{}, err
	}
	if _, err := part.Write(data); err != nil {
		return answer{}, err
	}
	if err := mw.Close(); err != nil {
		return answer{}, err
	}
	return c.do(ctx, http.MethodPost, "/file/upload", &buf, mw.FormDataContentType())
}

// signIn mints a dev token for clerkID (APP_ENV=dev, no Clerk issuer).
func signIn(ctx context.Context, base, clerkID string) (*apiClient, error) {
	c := &apiClient{base: base, http: newHTTPClient()}
	a, err := c.get(ctx, "/auth/create-token?"+url.Values{"clerk_id": {clerkID}}.Encode())
	if err != nil {
		return nil, fmt.Errorf("create-token %s: %w", clerkID, err)
	}
	var tok struct {
		Token string `json:"token"`
	}
	if !a.ok() {
		return nil, fmt.Errorf("create-token %s: %s", clerkID, a)
	}
	if err := a.decode(&tok); err != nil || tok.Token == "" {
		return nil, fmt.Errorf("create-token %s: no token in %s", clerkID, a)
	}
	c.token = tok.Token
	return c, nil
}

// errorLabel names a transport error without its URL (a presigned URL
// carries a signature) and short enough for a table.
func errorLabel(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "error: client timeout"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		// How a server that refuses a body before reading it shows.
		return "error: connection closed by the server"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "error: connection closed by the server"
	}
	s := err.Error()
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return "error: " + s
}
