package httpapi

import (
	"net/http"

	cv1 "github.com/nonefinity/backend/contracts/credentialv1"
	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	fv1 "github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/contracts/userv1"
	"github.com/nonefinity/backend/pkg/telemetry"
	"github.com/nonefinity/backend/services/gateway/internal/access"
	"github.com/nonefinity/backend/services/gateway/internal/mcpapi"
	"github.com/nonefinity/backend/services/gateway/internal/sseticket"
)

// audience says who may call a route.
type audience int

const (
	// accessOps: operations routes, open and not rate limited.
	accessOps audience = iota
	// accessPublic: API routes without a token, rate limited by address.
	accessPublic
	// accessUser: a bearer token, rate limited by user (and, like every
	// API route, by address before the token is checked).
	accessUser
	// accessAdmin: a bearer token of an admin.
	accessAdmin
)

// APIPrefix is the path prefix of every API route.
const APIPrefix = "/api/v1"

// route is one row of the route table: what the router serves and what
// the OpenAPI document says about it, from the same Go types.
type route struct {
	method  string
	path    string
	access  audience
	handler http.HandlerFunc
	doc     opDoc
	// exemptIPLimit keeps a route out of the per-address limit: senders
	// that talk to us from a handful of addresses, on their own schedule.
	exemptIPLimit bool
	// ticketAuth admits an event stream ticket in the query instead of the
	// bearer token (accessUser routes).
	ticketAuth bool
	// scope is what a personal API key needs to call the route (from
	// keyScopes); "" keeps the route for sessions.
	scope access.Scope
	// scopesInHandler admits every API key: the handler checks a scope per
	// operation with access.From(ctx).Require (the MCP endpoint).
	scopesInHandler bool
}

// keyScopes maps each operation a personal API key may call to the scope
// it needs, by operation id. Every other authenticated operation is for
// sessions only: managing credentials (create, update, delete, test, key
// generation), the caller's token and events, API keys themselves, and
// everything admin. credentials:read never reveals a plaintext key: list
// and get answer masked keys.
var keyScopes = map[string]access.Scope{
	"listDatasets":        access.DatasetsRead,
	"getDataset":          access.DatasetsRead,
	"datasetData":         access.DatasetsRead,
	"datasetRejects":      access.DatasetsRead,
	"exportDataset":       access.DatasetsRead,
	"datasetFileColumns":  access.DatasetsRead,
	"queryDatasets":       access.DatasetsQuery,
	"convertDataset":      access.DatasetsWrite,
	"createDataset":       access.DatasetsWrite,
	"updateDataset":       access.DatasetsWrite,
	"deleteDataset":       access.DatasetsWrite,
	"updateDatasetSchema": access.DatasetsWrite,
	"insertIntoDataset":   access.DatasetsWrite,

	"listFiles":         access.FilesRead,
	"searchFiles":       access.FilesRead,
	"fileStats":         access.FilesRead,
	"fileTypes":         access.FilesRead,
	"filesAllowConvert": access.FilesRead,
	"fileDownload":      access.FilesRead,
	"getFile":           access.FilesRead,
	"fileUploadURL":     access.FilesWrite,
	"fileUpload":        access.FilesWrite,
	"renameFile":        access.FilesWrite,
	"batchDeleteFiles":  access.FilesWrite,
	"deleteFile":        access.FilesWrite,

	"listCredentials":           access.CredentialsRead,
	"getCredential":             access.CredentialsRead,
	"listCredentialsByProvider": access.CredentialsRead,
}

// opDoc describes an operation for the OpenAPI document.
type opDoc struct {
	id      string
	summary string
	tag     string
	// query is the struct bound from the query string, body the request
	// body; forms says the body may also be a urlencoded or multipart form.
	query any
	body  any
	forms bool
	// reply is the envelope's data on success, with status (default 200);
	// paged adds the envelope's meta; also lists other success replies.
	reply  any
	status int
	paged  bool
	also   map[int]any
	// raw is the content type of a response that is not the JSON envelope.
	raw string
	// description adds text to the summary.
	description string
	// headers are the request headers the operation reads, by name, with
	// what they do.
	headers map[string]string
	// errors, when set, are the operation's error statuses instead of
	// those its access and inputs imply.
	errors []int
}

// noContent, as a reply, documents a response without a body.
type noContent struct{}

// clerkWebhookEvent documents the body Clerk (through svix) delivers.
type clerkWebhookEvent struct {
	Type string         `json:"type" doc:"user.created, user.updated or user.deleted; any other type is answered 204" example:"user.created"`
	Data map[string]any `json:"data" doc:"Clerk's user object (for user.deleted: {id, deleted})"`
}

// ops is an operations route (no prefix, no token).
func ops(method, path string, h http.HandlerFunc, d opDoc) route {
	d.tag = "operations"
	return route{method: method, path: path, access: accessOps, handler: h, doc: d}
}

func api(method, path string, acc audience, h http.HandlerFunc, d opDoc) route {
	return route{method: method, path: APIPrefix + path, access: acc, handler: h, doc: d}
}

// handlerFunc adapts an optional http.Handler to the table.
func handlerFunc(h http.Handler) http.HandlerFunc { return h.ServeHTTP }

// routes is the route table: every row of API.md plus the operations.
func (a *API) routes() []route {
	rs := []route{
		ops(http.MethodGet, "/health", a.health, opDoc{
			id: "health", summary: "Process is alive",
			reply: healthReply{},
		}),
		ops(http.MethodGet, "/ready", a.ready, opDoc{
			id: "ready", summary: "NATS and every service answer (503 names what does not)",
			reply:  map[string]string{},
			errors: []int{http.StatusServiceUnavailable},
		}),
		ops(http.MethodGet, "/metrics", handlerFunc(telemetry.MetricsHandler(a.registry)), opDoc{
			id: "metrics", summary: "Prometheus metrics",
			raw: "text/plain",
		}),
		ops(http.MethodGet, "/openapi.json", a.openapi, opDoc{
			id: "openapi", summary: "This document (OpenAPI 3.1)",
			raw: "application/json",
		}),
		ops(http.MethodGet, "/docs", a.docsPage, opDoc{
			id: "docs", summary: "Interactive API documentation",
			raw: "text/html",
		}),

		// auth
		api(http.MethodGet, "/auth/verify-token", accessUser, a.verifyToken, opDoc{
			id: "verifyToken", tag: "auth", summary: "The verified claims of the bearer token",
			reply: tokenInfo{},
		}),
		api(http.MethodGet, "/auth/me", accessUser, a.me, opDoc{
			id: "me", tag: "auth", summary: "The caller's user document",
			reply: userv1.User{},
		}),

		// providers
		api(http.MethodGet, "/providers", accessPublic, a.providersList, opDoc{
			id: "listProviders", tag: "providers", summary: "AI providers a credential can be for",
			query: providersQuery{}, reply: cv1.ProvidersListReply{},
		}),
		api(http.MethodPost, "/providers/refresh", accessAdmin, a.providersRefresh, opDoc{
			id: "refreshProviders", tag: "providers", summary: "Reload the providers YAML into MongoDB (admin)",
			reply: cv1.ProvidersRefreshReply{},
		}),

		// credentials
		api(http.MethodPost, "/credentials", accessUser, a.credentialCreate, opDoc{
			id: "createCredential", tag: "credentials", summary: "Store a provider API key (encrypted; never returned)",
			body: cv1.CreateRequest{}, forms: true, reply: cv1.Credential{}, status: http.StatusCreated,
		}),
		api(http.MethodGet, "/credentials", accessUser, a.credentialList, opDoc{
			id: "listCredentials", tag: "credentials", summary: "The caller's credentials, one page",
			query: pageQuery{}, reply: cv1.ListReply{}, paged: true,
		}),
		api(http.MethodGet, "/credentials/{id}", accessUser, a.credentialGet, opDoc{
			id: "getCredential", tag: "credentials", summary: "One credential with its masked key",
			reply: cv1.Credential{},
		}),
		api(http.MethodPut, "/credentials/{id}", accessUser, a.credentialUpdate, opDoc{
			id: "updateCredential", tag: "credentials", summary: "Change the fields given (400 if none)",
			body: credentialUpdate{}, forms: true, reply: cv1.Credential{},
		}),
		api(http.MethodDelete, "/credentials/{id}", accessUser, a.credentialDelete, opDoc{
			id: "deleteCredential", tag: "credentials", summary: "Delete a credential",
			reply: cv1.DeleteReply{},
		}),
		api(http.MethodPost, "/credentials/test", accessUser, a.credentialTest, opDoc{
			id: "testCredential", tag: "credentials", summary: "Probe a stored or ad-hoc key against its provider",
			body: cv1.TestRequest{}, forms: true, reply: cv1.TestReply{},
		}),
		api(http.MethodGet, "/credentials/provider/{provider_name}", accessUser, a.credentialListByProvider, opDoc{
			id: "listCredentialsByProvider", tag: "credentials", summary: "The caller's credentials for one provider",
			reply: cv1.ListByProviderReply{},
		}),
		api(http.MethodGet, "/credentials/encryption/health", accessUser, a.encryptionHealth, opDoc{
			id: "encryptionHealth", tag: "credentials", summary: "Key encryption self test, and for admins rotation progress",
			description: "records_on_old_keys and rotation count every user's records: " +
				"they are answered to admins only and omitted for everyone else.",
			reply: cv1.EncryptionHealthReply{},
		}),
		api(http.MethodPost, "/credentials/encryption/generate-key", accessUser, a.generateKey, opDoc{
			id: "generateKey", tag: "credentials", summary: "A fresh random secret for CREDENTIAL_SECRET_KEY",
			body: cv1.GenerateKeyRequest{}, forms: true, reply: cv1.GenerateKeyReply{},
		}),
		api(http.MethodPost, "/credentials/encryption/rotate", accessAdmin, a.rotateKeys, opDoc{
			id: "rotateKeys", tag: "credentials", summary: "Start re-encrypting every credential to the current key (admin)",
			body: cv1.RotateRequest{}, forms: true, reply: cv1.RotateReply{},
		}),

		// files
		api(http.MethodPost, "/file/upload-url", accessUser, a.fileUploadURL, opDoc{
			id: "fileUploadURL", tag: "files", summary: "A presigned PUT for a new upload",
			description: "PUT exactly file_size bytes to upload_url (its Content-Length is signed: object storage refuses any other size with 403), " +
				"then POST /file/upload. file_size counts against the quota from now on; an upload not committed is removed, " +
				"and its bytes freed, once the URL has been expired for as long again as it was valid.",
			body: fv1.UploadURLRequest{}, forms: true, reply: fv1.UploadURLReply{},
		}),
		api(http.MethodPost, "/file/upload", accessUser, a.fileUpload, opDoc{
			id: "fileUpload", tag: "files", summary: "Record an uploaded object (JSON), or upload through the gateway (multipart field file)",
			body: fv1.CommitRequest{}, reply: fv1.File{}, status: http.StatusCreated,
		}),
		api(http.MethodGet, "/file/list", accessUser, a.fileList, opDoc{
			id: "listFiles", tag: "files", summary: "The caller's files, newest first",
			description: "Every file in one array; files in lists carry no preview (GET /file/{file_id} has it).",
			reply:       []fv1.File{},
		}),
		api(http.MethodGet, "/file/search", accessUser, a.fileSearch, opDoc{
			id: "searchFiles", tag: "files", summary: "Files whose name contains q (literally, any case)",
			description: "At most limit files, without previews.",
			query:       fv1.SearchRequest{}, reply: []fv1.File{},
		}),
		api(http.MethodGet, "/file/stats", accessUser, a.fileStats, opDoc{
			id: "fileStats", tag: "files", summary: "Counts and sizes of the caller's files",
			reply: fv1.StatsReply{},
		}),
		api(http.MethodGet, "/file/types", accessUser, a.fileTypes, opDoc{
			id: "fileTypes", tag: "files", summary: "Sorted distinct MIME types",
			reply: []string{},
		}),
		api(http.MethodGet, "/file/allow-convert", accessUser, a.fileAllowConvert, opDoc{
			id: "filesAllowConvert", tag: "files", summary: "Files that can become datasets",
			description: "Every ready CSV or XLSX file, newest first, without previews.",
			reply:       []fv1.File{},
		}),
		api(http.MethodGet, "/file/download/{file_id}", accessUser, a.fileDownload, opDoc{
			id: "fileDownload", tag: "files", summary: "A presigned GET URL of the file",
			reply: "",
		}),
		api(http.MethodPut, "/file/rename/{file_id}", accessUser, a.fileRename, opDoc{
			id: "renameFile", tag: "files", summary: "Rename a file (the object stays)",
			query: renameQuery{}, reply: fv1.File{},
		}),
		api(http.MethodPost, "/file/batch/delete", accessUser, a.fileBatchDelete, opDoc{
			id: "batchDeleteFiles", tag: "files", summary: "Delete several files; each succeeds or fails alone",
			body: fv1.BatchDeleteRequest{}, reply: fv1.BatchDeleteReply{},
		}),
		api(http.MethodGet, "/file/{file_id}", accessUser, a.fileGet, opDoc{
			id: "getFile", tag: "files", summary: "One file with processing status and preview",
			reply: fv1.File{},
		}),
		api(http.MethodDelete, "/file/{file_id}", accessUser, a.fileDelete, opDoc{
			id: "deleteFile", tag: "files", summary: "Remove the object and the document",
			reply: fv1.DeleteReply{},
		}),

		// datasets
		api(http.MethodPost, "/datasets/convert", accessUser, a.datasetConvert, opDoc{
			id: "convertDataset", tag: "datasets", summary: "Turn a CSV/XLSX file into a dataset",
			description: "201 with the dataset when the conversion finished, 202 with its id and status when it runs on (async, or slow). " +
				"Encoding, delimiter, quoting, title rows above the table and the header are detected from the file; the options override them " +
				"(quote empty reads quotes as text; header_row names the sheet row holding the column names). " +
				"No row is dropped in silence: rows that cannot be read are counted in rows_rejected and listed by /datasets/{id}/rejects, " +
				"and a dataset with warnings is ready with warnings (status ready, warnings non-empty, message \"dataset created with warnings: …\"). " +
				"With ignore_errors=false any such row fails the conversion instead. A failed dataset gives its name up to a retry. " +
				"Limits: a user has at most DATASET_MAX_PENDING_CONVERSIONS (10) conversions in progress (a further one is 429); " +
				"a table has at most DATASET_MAX_COLUMNS (4096) columns; one user's conversions take at most " +
				"DATASET_CONVERT_WORKERS_PER_USER of an instance's workers, so other users' conversions never wait behind them. " +
				"Retrying is safe: a request repeating an earlier one answers with that request's dataset instead of converting again " +
				"(200 when it is ready, 202 while it converts, the same 422 when it failed). A repeat is a request with the earlier one's " +
				"Idempotency-Key (the same key with another body is a 422), or one with the same dataset_name, file_id and options as a " +
				"dataset that is not failed (otherwise a taken name is a 409).",
			headers: map[string]string{idempotencyKeyHeader: "Any string of up to 255 visible ASCII characters (a UUID) naming this request: " +
				"a retry with the same key and body answers with the dataset the first request made. Keys are per user and last as long as the dataset."},
			body: dv1.ConvertRequest{}, forms: true, reply: dv1.Dataset{}, status: http.StatusCreated,
			also: map[int]any{http.StatusAccepted: convertAccepted{}, http.StatusOK: dv1.Dataset{}},
		}),
		api(http.MethodPost, "/datasets/create", accessUser, a.datasetCreate, opDoc{
			id: "createDataset", tag: "datasets", summary: "An empty dataset with a declared schema",
			description: "In a form, schema is a JSON array of {column_name, column_type, desc}.",
			body:        dv1.CreateRequest{}, forms: true, reply: dv1.Dataset{}, status: http.StatusCreated,
		}),
		api(http.MethodGet, "/datasets/list", accessUser, a.datasetList, opDoc{
			id: "listDatasets", tag: "datasets", summary: "The caller's datasets, one page",
			description: "The page is streamed: however many columns the datasets have, the answer holds the whole window.",
			query:       pageQuery{}, reply: []dv1.Dataset{}, paged: true,
		}),
		api(http.MethodPost, "/datasets/query", accessUser, a.datasetQuery, opDoc{
			id: "queryDatasets", tag: "datasets", summary: "Run one read-only SQL statement over the caller's datasets",
			body: dv1.QueryRequest{}, forms: true, reply: dv1.QueryReply{},
		}),
		api(http.MethodGet, "/datasets/{id}", accessUser, a.datasetGet, opDoc{
			id: "getDataset", tag: "datasets", summary: "One dataset",
			reply: dv1.Dataset{},
		}),
		api(http.MethodPut, "/datasets/{id}", accessUser, a.datasetUpdate, opDoc{
			id: "updateDataset", tag: "datasets", summary: "Rename a dataset or change its description",
			body: datasetUpdate{}, reply: dv1.Dataset{},
		}),
		api(http.MethodDelete, "/datasets/{id}", accessUser, a.datasetDelete, opDoc{
			id: "deleteDataset", tag: "datasets", summary: "Delete a dataset",
			reply: true,
		}),
		api(http.MethodPut, "/datasets/{id}/schema", accessUser, a.datasetUpdateSchema, opDoc{
			id: "updateDatasetSchema", tag: "datasets", summary: "Set column descriptions",
			body: schemaDescriptions{}, reply: dv1.Dataset{},
		}),
		api(http.MethodGet, "/datasets/{id}/data", accessUser, a.datasetData, opDoc{
			id: "datasetData", tag: "datasets", summary: "A window of the dataset's rows",
			query: pageQuery{}, reply: dv1.DataReply{},
		}),
		api(http.MethodGet, "/datasets/{id}/rejects", accessUser, a.datasetRejects, opDoc{
			id: "datasetRejects", tag: "datasets",
			summary:     "The rows of the file the conversion did not keep, with their line and the reason",
			description: "Paged like /data; total equals the dataset's rows_rejected. Empty for a dataset that kept every row.",
			query:       pageQuery{}, reply: dv1.RejectsReply{},
		}),
		api(http.MethodGet, "/datasets/{id}/export", accessUser, a.datasetExport, opDoc{
			id: "exportDataset", tag: "datasets", summary: "The whole dataset as CSV, Parquet or JSON, streamed",
			query: exportQuery{}, raw: "application/octet-stream",
		}),
		api(http.MethodGet, "/datasets/{id}/file-columns/{file_id}", accessUser, a.datasetFileColumns, opDoc{
			id: "datasetFileColumns", tag: "datasets", summary: "A file's columns next to the dataset's, to map them before an insert",
			reply: dv1.FileColumnsReply{},
		}),
		api(http.MethodPost, "/datasets/{id}/insert/{file_id}", accessUser, a.datasetInsert, opDoc{
			id: "insertIntoDataset", tag: "datasets",
			summary: "Append a file's rows (columns matched by name; mismatches are a 422 naming them)",
			reply:   dv1.InsertReply{},
		}),

		// duckdb
		api(http.MethodGet, "/duckdb/stats", accessAdmin, a.duckdbStats, opDoc{
			id: "duckdbStats", tag: "duckdb", summary: "Counts of every user's DuckDB sessions on the answering instance (admin)",
			description: "Instance-wide, so admins only: a user gets 403.",
			reply:       dv1.DuckDBStatsReply{},
		}),
		api(http.MethodPost, "/duckdb/cleanup", accessAdmin, a.duckdbCleanup, opDoc{
			id: "duckdbCleanup", tag: "duckdb", summary: "Close expired sessions now (admin)",
			reply: dv1.CleanupReply{},
		}),
	}
	if a.mcp != nil {
		rs = append(rs, route{method: http.MethodPost, path: mcpapi.Path, access: accessUser, handler: handlerFunc(a.mcp), doc: opDoc{
			id: "mcp", tag: "mcp", summary: "The MCP server (Streamable HTTP, stateless): tools and resources over the caller's datasets and files",
			description: "Not a REST route: the body is one JSON-RPC 2.0 message of the Model Context Protocol, answered as JSON " +
				"(Accept: application/json, text/event-stream). Use an MCP client. Tools: list_datasets, describe_dataset, query, " +
				"list_files, file_preview, convert_file; resources dataset://<name>. A tool's failure (a refused statement, a missing dataset, " +
				"a scope the API key lacks) is a tool result with isError and the API's error message. Every message counts against the rate limit. " +
				"See the README's \"Connect an agent\".",
			body: mcpMessage{}, raw: "application/json",
		}, scopesInHandler: true})
	}
	if a.apiKeys != nil {
		rs = append(rs, a.apiKeyRoutes()...)
	}
	if a.minter != nil {
		rs = append(rs, api(http.MethodGet, "/auth/create-token", accessPublic, a.createToken, opDoc{
			id: "createToken", tag: "auth", summary: "Mint a development session token (APP_ENV=dev only)",
			query: createTokenQuery{}, reply: MintedToken{},
		}))
	}
	if a.webhooks != nil {
		// Clerk delivers every user's events from a few svix addresses; a
		// burst of sign-ups must not be refused as one client's flood.
		hook := api(http.MethodPost, "/webhooks/clerk", accessPublic, handlerFunc(a.webhooks), opDoc{
			id: "clerkWebhook", tag: "webhooks",
			summary: "Clerk user events, signed with svix (svix-id, svix-timestamp, svix-signature)",
			description: "user.created and user.updated upsert the user (200 with the stored user; an older or repeated event is 200 without it), " +
				"user.deleted erases it everywhere; other types are answered 204. A bad or stale signature, or a body that is not an event, is 400.",
			headers: map[string]string{
				"svix-id":        "The delivery's id",
				"svix-timestamp": "Seconds since the epoch; more than 5 minutes off is refused",
				"svix-signature": "v1,<base64 HMAC-SHA256> under the endpoint's secret (several, space-separated, while it rotates)",
			},
			body: clerkWebhookEvent{}, reply: userv1.User{}, also: map[int]any{http.StatusNoContent: noContent{}},
			errors: []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusTooManyRequests,
				http.StatusInternalServerError, http.StatusServiceUnavailable},
		})
		hook.exemptIPLimit = true
		rs = append(rs, hook)
	}
	if a.events != nil {
		events := api(http.MethodGet, "/events", accessUser, handlerFunc(a.events), opDoc{
			id: "events", tag: "events", summary: "Server-Sent Events of the caller's own file, dataset and user events",
			raw: "text/event-stream",
			description: "Each event's id is the stream position (FILES:n,DATASETS:n,USERS:n); reconnecting with Last-Event-ID resumes without gaps. " +
				"event is <domain>.<event> (file.processed, dataset.converted…), data the event's JSON. A comment is sent every 15 s. " +
				"A user holds at most SSE_MAX_CONNECTIONS_PER_USER (10) streams per gateway instance; a further one is 429. " +
				"Authorize with the bearer token, or (a browser's EventSource, which cannot send headers) with ?ticket= from POST /events/ticket; " +
				"a session token in the URL is never accepted.",
		})
		events.ticketAuth = a.tickets != nil
		rs = append(rs, events)
		if a.tickets != nil {
			rs = append(rs, api(http.MethodPost, "/events/ticket", accessUser, a.eventsTicket, opDoc{
				id: "eventsTicket", tag: "events",
				summary: "A single-use ticket that opens one event stream (GET /events?ticket=) within 30 s",
				description: "For EventSource, which cannot send Authorization: the ticket authenticates one connection as the caller, once; " +
					"a used, expired or unknown ticket is 401. Tickets are shared by every gateway instance when Redis is configured.",
				reply: sseticket.Ticket{}, status: http.StatusCreated,
			}))
		}
	}
	if a.jwks != nil {
		rs = append(rs, ops(http.MethodGet, "/.well-known/jwks.json", handlerFunc(a.jwks), opDoc{
			id: "jwks", summary: "Public keys of development tokens",
			raw: "application/json",
		}))
	}
	for i := range rs {
		rs[i].scope = keyScopes[rs[i].doc.id]
	}
	return rs
}

// mcpMessage documents the body of POST /mcp: a JSON-RPC 2.0 message.
type mcpMessage struct {
	JSONRPC string         `json:"jsonrpc" enum:"2.0"`
	ID      any            `json:"id,omitempty" doc:"Absent in a notification"`
	Method  string         `json:"method" example:"tools/call" doc:"initialize, tools/list, tools/call, resources/list, resources/read…"`
	Params  map[string]any `json:"params,omitempty" doc:"For tools/call: {name, arguments}"`
}

// apiKeyRoutes manage the caller's personal API keys; sessions only (a key
// cannot make or manage keys).
func (a *API) apiKeyRoutes() []route {
	const keyNote = "Sessions only: a request made with an API key is refused 403."
	return []route{
		api(http.MethodPost, "/api-keys", accessUser, a.apiKeyCreate, opDoc{
			id: "createAPIKey", tag: "api-keys", summary: "Make a personal API key; the key is in this reply only",
			description: "The key (nf_<env>_<43 base62 characters>) authenticates like a session token, as Authorization: Bearer or X-API-Key, " +
				"limited to its scopes. Only its HMAC is stored: copy it now. A user has at most API_KEY_MAX_PER_USER keys (a further one is 409). " + keyNote,
			body: apiKeyCreate{}, reply: createdAPIKey{}, status: http.StatusCreated,
		}),
		api(http.MethodGet, "/api-keys", accessUser, a.apiKeyList, opDoc{
			id: "listAPIKeys", tag: "api-keys", summary: "The caller's API keys, newest first, without their secrets",
			description: keyNote, reply: []apiKey{},
		}),
		api(http.MethodGet, "/api-keys/{id}", accessUser, a.apiKeyGet, opDoc{
			id: "getAPIKey", tag: "api-keys", summary: "One API key, without its secret",
			description: keyNote, reply: apiKey{},
		}),
		api(http.MethodPut, "/api-keys/{id}", accessUser, a.apiKeyUpdate, opDoc{
			id: "updateAPIKey", tag: "api-keys", summary: "Rename a key or replace its scopes (the fields given; 400 if none)",
			description: "New scopes apply on every gateway instance within seconds. A revoked key cannot be changed (409). " + keyNote,
			body:        apiKeyUpdate{}, reply: apiKey{},
		}),
		api(http.MethodPost, "/api-keys/{id}/revoke", accessUser, a.apiKeyRevoke, opDoc{
			id: "revokeAPIKey", tag: "api-keys", summary: "Stop a key for good; it stays listed, inactive",
			description: "Every gateway instance refuses the key within seconds. Revoking a revoked key answers it unchanged. " + keyNote,
			reply:       apiKey{},
		}),
		api(http.MethodDelete, "/api-keys/{id}", accessUser, a.apiKeyDelete, opDoc{
			id: "deleteAPIKey", tag: "api-keys", summary: "Delete a key (it stops working at once)",
			description: keyNote, reply: apiKeyDeleted{},
		}),
	}
}

// healthReply is the data of GET /health.
type healthReply struct {
	Status  string `json:"status" example:"ok"`
	Service string `json:"service" example:"gateway"`
	Version string `json:"version" example:"0.1.0"`
}
