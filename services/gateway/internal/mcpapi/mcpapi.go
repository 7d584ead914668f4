// Package mcpapi is the gateway's MCP server (Streamable HTTP, mounted at
// /mcp): tools and resources over the caller's datasets and files for any
// agent that speaks the Model Context Protocol.
//
// It adds no second way to reach the data. Every tool is the service call
// of the matching HTTP route, through contracts/client over NATS, under the
// request timeout, as the user and with the grant the gateway's
// authentication put on the request; a tool checks the grant's scope before
// it calls. Errors are the HTTP API's: a refused statement or a missing
// dataset says why; a 5xx is generic with an error id.
package mcpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nonefinity/backend/contracts/client"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/reqctx"
	"github.com/nonefinity/backend/services/gateway/internal/access"
)

// Path is where the gateway serves MCP.
const Path = "/mcp"

// maxMessageBytes bounds one JSON-RPC message: a tool call's arguments are
// a name, an id or one SQL statement.
const maxMessageBytes = 1 << 20

// Options configures the MCP server. Datasets, Files, Log, Registry and
// Public are required.
type Options struct {
	Datasets client.Dataset
	Files    client.File
	Log      *slog.Logger
	Registry prometheus.Registerer
	Version  string
	// Timeout bounds the service calls of one tool call, as the request
	// timeout bounds an HTTP route's.
	Timeout time.Duration
	// Public is what the caller may learn of a failed call (the HTTP API's
	// error story: a service's 4xx as it is, anything else generic with an
	// error id, logged and reported once); route names the call in the
	// report.
	Public func(ctx context.Context, route string, err error) *rpcerr.Error
}

// Server holds what the tools share.
type Server struct {
	datasets client.Dataset
	files    client.File
	log      *slog.Logger
	timeout  time.Duration
	public   func(ctx context.Context, route string, err error) *rpcerr.Error
	metrics  *metrics
	mcp      *mcp.Server
}

// New builds the MCP server with its tools and resources.
func New(o Options) (*Server, error) {
	if o.Log == nil || o.Registry == nil || o.Public == nil || o.Datasets.R == nil || o.Files.R == nil {
		return nil, errors.New("mcpapi: Datasets, Files, Log, Registry and Public are required")
	}
	s := &Server{
		datasets: o.Datasets,
		files:    o.Files,
		log:      o.Log,
		timeout:  o.Timeout,
		public:   o.Public,
		metrics:  newMetrics(o.Registry),
	}
	s.mcp = mcp.NewServer(&mcp.Implementation{Name: "nonefinity", Title: "Nonefinity datasets and files", Version: o.Version},
		&mcp.ServerOptions{Instructions: instructions, SetCacheable: privateCache})
	s.addTools()
	s.addResources()
	// Outermost first: every call is observed, resources/list included.
	s.mcp.AddReceivingMiddleware(s.observe, s.listResources)
	return s, nil
}

// instructions tell the model how the tools fit together.
const instructions = "The user's datasets are tables: list_datasets names them with their columns, " +
	"describe_dataset shows one with sample rows, query runs one read-only DuckDB SQL statement over them " +
	"(a dataset's name is its table name). list_files and file_preview show the uploaded files; " +
	"convert_file turns a CSV or XLSX file into a dataset."

// privateCache marks every cacheable answer private: the resources are
// the user's data, and the protocol's default, public, would let an
// intermediary serve them to another user.
func privateCache(_ context.Context, _ mcp.Request, c *mcp.Cacheable) {
	c.CacheScope = cachePrivate
}

const cachePrivate = "private"

// Handler serves MCP's Streamable HTTP transport. It must run behind the
// gateway's authentication: the tools act as the user and with the grant
// it put on the request's context.
//
// Stateless: every POST is a whole exchange, so any gateway instance can
// answer any request and no session outlives its request; the SDK connects
// each request's session with the request's context, whose values (the
// user, the grant, the request id) the tool calls then carry.
// JSON responses: a tool answers once, nothing streams.
// The SDK's DNS-rebinding guard is off: it protects servers that trust a
// caller for reaching them on localhost, and this one trusts only the bearer
// token or API key, which a rebound page does not have.
func (s *Server) Handler() http.Handler {
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.mcp }, &mcp.StreamableHTTPOptions{
		Stateless:                  true,
		JSONResponse:               true,
		Logger:                     s.log,
		MaxRequestBodyBytes:        maxMessageBytes,
		DisableLocalhostProtection: true,
	})
}

// call bounds one tool's service calls by the timeout.
func (s *Server) call(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.timeout)
}

// require refuses a call outside the grant's scopes with the HTTP API's
// 403, which names the missing scope.
func require(ctx context.Context, scope access.Scope) error {
	if err := access.From(ctx).Require(scope); err != nil {
		return rpcerr.New(rpcerr.Forbidden, err.Error())
	}
	return nil
}

// toolError is the error a tool answers with: the public error, whose
// text (code, field, message, error id) the model reads.
func (s *Server) toolError(ctx context.Context, tool string, err error) error {
	return &toolFailure{pub: s.public(ctx, "MCP tools/call "+tool, err)}
}

// toolFailure is a failed tool call as the caller sees it.
type toolFailure struct{ pub *rpcerr.Error }

func (f *toolFailure) Error() string {
	if f.pub.ErrorID != "" {
		return f.pub.Error() + " (error id " + f.pub.ErrorID + ")"
	}
	return f.pub.Error()
}

func (f *toolFailure) Unwrap() error { return f.pub }

// userID is the caller's internal id, for the call log.
func userID(ctx context.Context) string { return reqctx.UserID(ctx) }
