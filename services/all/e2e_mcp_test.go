package all_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	"github.com/nonefinity/backend/pkg/testkit"
)

// bearerTransport adds the caller's Authorization (or X-API-Key) header to
// every request of the MCP client.
type bearerTransport struct {
	header, value string
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if b.value != "" {
		r.Header.Set(b.header, b.value)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// mcpURL is the stack's MCP endpoint: /mcp beside /api/v1.
func (s *e2eStack) mcpURL() string { return strings.TrimSuffix(s.base, "/api/v1") + "/mcp" }

// connectMCP connects the SDK's own client to /mcp with header: value.
func (s *e2eStack) connectMCP(t *testing.T, header, value string) (*mcp.ClientSession, error) {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:   s.mcpURL(),
		HTTPClient: &http.Client{Transport: bearerTransport{header: header, value: value}},
		MaxRetries: -1,
	}, nil)
	if err == nil {
		t.Cleanup(func() { _ = cs.Close() })
	}
	return cs, err
}

// mcpSession connects u's MCP client with its bearer token.
func (s *e2eStack) mcpSession(t *testing.T, u apiUser) *mcp.ClientSession {
	t.Helper()
	cs, err := s.connectMCP(t, "Authorization", "Bearer "+u.token)
	if err != nil {
		t.Fatalf("connect /mcp: %v", err)
	}
	return cs
}

// callTool calls a tool and returns its result (an error result too).
func callTool(t *testing.T, cs *mcp.ClientSession, name string, args any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: protocol error %v", name, err)
	}
	return res
}

// toolText is the text of a result's content.
func toolText(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// callOK calls a tool that must succeed and decodes its structured content.
func callOK(t *testing.T, cs *mcp.ClientSession, name string, args, out any) *mcp.CallToolResult {
	t.Helper()
	res := callTool(t, cs, name, args)
	if res.IsError {
		t.Fatalf("%s(%v) failed: %s", name, args, toolText(res))
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s structured content: %v: %s", name, err, b)
	}
	return res
}

// callFails calls a tool that must answer with a tool error (not a protocol
// error) and returns its text.
func callFails(t *testing.T, cs *mcp.ClientSession, name string, args any) string {
	t.Helper()
	res := callTool(t, cs, name, args)
	if !res.IsError {
		t.Fatalf("%s(%v) succeeded: %s", name, args, toolText(res))
	}
	text := toolText(res)
	if text == "" {
		t.Fatalf("%s(%v): error without a message", name, args)
	}
	return text
}

// The tools' results, as a client decodes them.
type (
	mcpColumn struct{ Name, Type, Description string }
	mcpTable  struct {
		Columns   []struct{ Name, Type string } `json:"columns"`
		Rows      [][]any                       `json:"rows"`
		RowCount  int                           `json:"row_count"`
		Truncated bool                          `json:"truncated"`
	}
	mcpDataset struct {
		Name        string      `json:"name"`
		Description string      `json:"description"`
		Status      string      `json:"status"`
		RowCount    int64       `json:"row_count"`
		Columns     []mcpColumn `json:"columns"`
		Sample      mcpTable    `json:"sample"`
	}
	mcpDatasets struct {
		Datasets []mcpDataset `json:"datasets"`
		Total    int          `json:"total"`
	}
	mcpFile struct {
		ID, Name, Type, Status string
		Size                   int64
	}
	mcpFiles struct {
		Files      []mcpFile `json:"files"`
		NextCursor string    `json:"next_cursor"`
	}
	mcpPreview struct {
		mcpFile
		Columns   []string   `json:"columns"`
		Rows      [][]string `json:"rows"`
		HasHeader bool       `json:"has_header"`
	}
	mcpConverted struct {
		Status  string      `json:"status"`
		Dataset *mcpDataset `json:"dataset"`
	}
)

func datasetNames(l mcpDatasets) []string {
	var names []string
	for _, d := range l.Datasets {
		names = append(names, d.Name)
	}
	return names
}

// TestE2EMCP drives /mcp with the SDK's own client through the real
// gateway and services: every tool, the dataset resources, another user's
// data, the sandbox, and the errors the HTTP API gives.
func TestE2EMCP(t *testing.T) {
	s := startE2E(t, e2eOptions{})
	a := s.user(t, "e2e_mcp_a", "")
	b := s.user(t, "e2e_mcp_b", "")
	eventsA := a.subscribeEvents(t)
	eventsB := b.subscribeEvents(t)

	rows := saleRows(1, 40)
	salesFile := uploadFile(t, a, "sales.csv", "text/csv", salesCSV(rows))
	notesFile := uploadFile(t, a, "notes.txt", "text/plain", []byte("not a table\n"))
	waitAllProcessed(t, eventsA, salesFile.ID, notesFile.ID)
	bobsFile := uploadFile(t, b, "bobs.csv", "text/csv", salesCSV(saleRows(500, 3)))
	waitProcessed(t, eventsB, bobsFile.ID)
	var bobs dv1.Dataset
	expect(t, b.form(t, http.MethodPost, "/datasets/convert", url.Values{"file_id": {bobsFile.ID}, "dataset_name": {"bobs_sales"}}),
		http.StatusCreated, &bobs)

	cs := s.mcpSession(t, a)
	csB := s.mcpSession(t, b)

	t.Run("tools/list names every tool with exact schemas", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := cs.ListTools(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, tool := range res.Tools {
			names = append(names, tool.Name)
			if tool.Description == "" || tool.InputSchema == nil || tool.OutputSchema == nil {
				t.Errorf("%s: description, input or output schema missing: %+v", tool.Name, tool)
			}
		}
		slices.Sort(names)
		want := []string{"convert_file", "describe_dataset", "file_preview", "list_datasets", "list_files", "query"}
		if !slices.Equal(names, want) {
			t.Fatalf("tools %v, want %v", names, want)
		}
		for _, tool := range res.Tools {
			if tool.Name != "query" {
				continue
			}
			schema, _ := json.Marshal(tool.InputSchema)
			var in struct {
				Required   []string                   `json:"required"`
				Properties map[string]json.RawMessage `json:"properties"`
			}
			if err := json.Unmarshal(schema, &in); err != nil || !slices.Equal(in.Required, []string{"sql"}) || len(in.Properties) != 2 {
				t.Fatalf("query input schema %s", schema)
			}
		}
	})

	t.Run("list_files and file_preview show the caller's files only", func(t *testing.T) {
		var files mcpFiles
		callOK(t, cs, "list_files", map[string]any{}, &files)
		var ids []string
		for _, f := range files.Files {
			ids = append(ids, f.ID)
		}
		if got, want := sorted(ids...), sorted(salesFile.ID, notesFile.ID); !slices.Equal(got, want) {
			t.Fatalf("A's files %v, want %v", got, want)
		}
		var p mcpPreview
		callOK(t, cs, "file_preview", map[string]any{"file_id": salesFile.ID}, &p)
		if p.Name != "sales.csv" || !slices.Equal(p.Columns, []string{"id", "category", "amount", "sold_on"}) || !p.HasHeader ||
			len(p.Rows) == 0 || p.Rows[0][0] != "1" {
			t.Fatalf("preview = %+v", p)
		}
		if msg := callFails(t, cs, "file_preview", map[string]any{"file_id": notesFile.ID}); !strings.Contains(msg, "no table preview") {
			t.Fatalf("preview of a text file: %s", msg)
		}
		// B's file is not found, as the HTTP API says of it.
		r := a.get(t, "/file/"+bobsFile.ID)
		httpMsg := expectAPIError(t, r, http.StatusNotFound).Message
		if msg := callFails(t, cs, "file_preview", map[string]any{"file_id": bobsFile.ID}); !strings.Contains(msg, httpMsg) || strings.Contains(msg, "bobs") {
			t.Fatalf("B's file through A's MCP: %q (HTTP says %q)", msg, httpMsg)
		}
	})

	t.Run("convert_file makes a dataset", func(t *testing.T) {
		var conv mcpConverted
		callOK(t, cs, "convert_file", map[string]any{"file_id": salesFile.ID, "dataset_name": "sales", "description": "Orders of 2024"}, &conv)
		if conv.Status != string(dv1.StatusReady) || conv.Dataset == nil || conv.Dataset.Name != "sales" || conv.Dataset.RowCount != int64(len(rows)) {
			t.Fatalf("convert_file = %+v", conv)
		}
		// The service's validation, word for word.
		r := a.form(t, http.MethodPost, "/datasets/convert", url.Values{"file_id": {salesFile.ID}, "dataset_name": {"select"}})
		httpMsg := expectAPIError(t, r, http.StatusUnprocessableEntity, http.StatusBadRequest).Errors[0].Message
		if msg := callFails(t, cs, "convert_file", map[string]any{"file_id": salesFile.ID, "dataset_name": "select"}); !strings.Contains(msg, httpMsg) {
			t.Fatalf("bad name: %q, HTTP says %q", msg, httpMsg)
		}
		// Arguments the schema refuses never reach a service.
		if msg := callFails(t, cs, "convert_file", map[string]any{"file_id": salesFile.ID}); !strings.Contains(msg, "dataset_name") {
			t.Fatalf("missing dataset_name: %q", msg)
		}
	})

	t.Run("list_datasets and describe_dataset", func(t *testing.T) {
		var list mcpDatasets
		callOK(t, cs, "list_datasets", map[string]any{}, &list)
		if !slices.Equal(datasetNames(list), []string{"sales"}) || list.Total != 1 {
			t.Fatalf("A's datasets %+v", list)
		}
		d := list.Datasets[0]
		if d.Description != "Orders of 2024" || d.RowCount != int64(len(rows)) || d.Status != "ready" || len(d.Columns) != 4 ||
			d.Columns[0] != (mcpColumn{Name: "id", Type: "bigint"}) || d.Columns[3] != (mcpColumn{Name: "sold_on", Type: "date"}) {
			t.Fatalf("sales = %+v", d)
		}
		var desc mcpDataset
		callOK(t, cs, "describe_dataset", map[string]any{"name": "sales"}, &desc)
		if desc.Name != "sales" || len(desc.Columns) != 4 || desc.Sample.RowCount != 5 || !desc.Sample.Truncated ||
			len(desc.Sample.Columns) != 4 || desc.Sample.Rows[0][0] != float64(1) || desc.Sample.Rows[0][1] != "games" {
			t.Fatalf("describe sales = %+v", desc)
		}
		if msg := callFails(t, cs, "describe_dataset", map[string]any{"name": "nope"}); !strings.Contains(msg, `dataset "nope" not found`) {
			t.Fatalf("missing dataset: %q", msg)
		}
	})

	t.Run("query: a compact table, truncated, the same answer as the HTTP API", func(t *testing.T) {
		const sql = "SELECT category, count(*) AS n, sum(amount) AS total FROM sales GROUP BY category ORDER BY category"
		var tab mcpTable
		res := callOK(t, cs, "query", map[string]any{"sql": sql}, &tab)
		want := totalsByCategory(rows)
		if tab.RowCount != 3 || tab.Truncated || len(tab.Columns) != 3 || tab.Columns[1].Name != "n" || tab.Columns[1].Type != "BIGINT" {
			t.Fatalf("result %+v", tab)
		}
		for i, cat := range []string{"books", "games", "toys"} {
			if tab.Rows[i][0] != cat || tab.Rows[i][1] != float64(want[cat].n) || tab.Rows[i][2] != want[cat].sum {
				t.Fatalf("row %d = %v, want %s %+v", i, tab.Rows[i], cat, want[cat])
			}
		}
		text := toolText(res)
		if lines := strings.Split(text, "\n"); lines[0] != "category:VARCHAR\tn:BIGINT\ttotal:DOUBLE" || !strings.HasPrefix(lines[1], "books\t") ||
			lines[len(lines)-1] != "(3 rows)" {
			t.Fatalf("text:\n%s", text)
		}
		httpReply := query(t, a, sql)
		if httpReply.RowCount != tab.RowCount || httpReply.Data[0].Get("total") != tab.Rows[0][2] {
			t.Fatalf("HTTP %+v, MCP %+v", httpReply, tab)
		}

		callOK(t, cs, "query", map[string]any{"sql": "SELECT id FROM sales ORDER BY id", "limit": 3}, &tab)
		if tab.RowCount != 3 || !tab.Truncated || tab.Rows[2][0] != float64(3) {
			t.Fatalf("limit 3 = %+v", tab)
		}
		if text := toolText(callTool(t, cs, "query", map[string]any{"sql": "SELECT id FROM sales", "limit": 3})); !strings.Contains(text, "truncated") {
			t.Fatalf("a truncated result's text does not say so:\n%s", text)
		}
	})

	t.Run("a statement the sandbox refuses says why, as the HTTP API does", func(t *testing.T) {
		for _, sql := range []string{
			"SELECT * FROM read_csv('/etc/passwd')",
			"ATTACH '/tmp/other.duckdb' AS other",
			"SELECT * FROM read_text('/etc/hostname')",
			"COPY sales TO '/tmp/leak.csv'",
			"DROP TABLE sales",
			"SELECT 1; SELECT 2",
		} {
			r := a.json(t, http.MethodPost, "/datasets/query", map[string]any{"query": sql})
			env := expectAPIError(t, r, http.StatusBadRequest, http.StatusUnprocessableEntity)
			msg := callFails(t, cs, "query", map[string]any{"sql": sql})
			if !strings.Contains(msg, env.Errors[0].Message) || strings.Contains(msg, "root:") {
				t.Errorf("%q: MCP says %q, HTTP %q", sql, msg, env.Errors[0].Message)
			}
		}
		var tab mcpTable
		callOK(t, cs, "query", map[string]any{"sql": "SELECT count(*) AS n FROM sales"}, &tab)
		if tab.Rows[0][0] != float64(len(rows)) {
			t.Fatalf("after the refusals: %v", tab.Rows)
		}
	})

	t.Run("another user's dataset is invisible", func(t *testing.T) {
		var list mcpDatasets
		callOK(t, csB, "list_datasets", map[string]any{}, &list)
		if !slices.Equal(datasetNames(list), []string{"bobs_sales"}) {
			t.Fatalf("B's datasets %v", datasetNames(list))
		}
		if msg := callFails(t, cs, "describe_dataset", map[string]any{"name": "bobs_sales"}); !strings.Contains(msg, "not found") {
			t.Fatalf("A describes B's dataset: %q", msg)
		}
		// As through the HTTP API: no such table for A.
		r := a.json(t, http.MethodPost, "/datasets/query", map[string]any{"query": "SELECT * FROM bobs_sales"})
		env := expectAPIError(t, r, http.StatusBadRequest, http.StatusUnprocessableEntity)
		if msg := callFails(t, cs, "query", map[string]any{"sql": "SELECT * FROM bobs_sales"}); !strings.Contains(msg, env.Errors[0].Message) ||
			strings.Contains(msg, "500") {
			t.Fatalf("A queries B's dataset: %q (HTTP %q)", msg, env.Errors[0].Message)
		}
		var tab mcpTable
		callOK(t, csB, "query", map[string]any{"sql": "SELECT count(*) AS n FROM bobs_sales"}, &tab)
		if tab.Rows[0][0] != float64(3) {
			t.Fatalf("B's own query: %v", tab.Rows)
		}
	})

	t.Run("dataset resources", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		list, err := cs.ListResources(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Resources) != 1 || list.Resources[0].URI != "dataset://sales" || list.CacheScope != "private" {
			t.Fatalf("A's resources %+v", list.Resources)
		}
		read, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "dataset://sales"})
		if err != nil {
			t.Fatal(err)
		}
		var d mcpDataset
		// The user's data: no intermediary may cache it for others.
		if read.CacheScope != "private" || len(read.Contents) != 1 || json.Unmarshal([]byte(read.Contents[0].Text), &d) != nil ||
			d.Name != "sales" || d.Sample.RowCount != 5 {
			t.Fatalf("dataset://sales = %+v", read.Contents)
		}
		for _, uri := range []string{"dataset://bobs_sales", "dataset://nope"} {
			_, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri})
			var wire *jsonrpc.Error
			if !errors.As(err, &wire) || wire.Code != jsonrpc.CodeInvalidParams || wire.Message != "Resource not found" {
				t.Fatalf("A reads %s: %v", uri, err)
			}
		}
		listB, err := csB.ListResources(ctx, nil)
		if err != nil || len(listB.Resources) != 1 || listB.Resources[0].URI != "dataset://bobs_sales" {
			t.Fatalf("B's resources %+v %v", listB, err)
		}
	})

	t.Run("no or a bad token is refused before MCP", func(t *testing.T) {
		for _, value := range []string{"", "Bearer not-a-token"} {
			if _, err := s.connectMCP(t, "Authorization", value); err == nil || !strings.Contains(err.Error(), "Unauthorized") {
				t.Errorf("connect with %q: %v", value, err)
			}
		}
	})

	t.Run("tool calls are counted", func(t *testing.T) {
		r := doHTTP(t, http.MethodGet, strings.TrimSuffix(s.base, "/api/v1")+"/metrics", "", nil, "")
		for _, series := range []string{
			`mcp_calls_total{method="tools/call",outcome="ok",tool="query"}`,
			`mcp_calls_total{method="tools/call",outcome="tool_error:not_found",tool="describe_dataset"}`,
			`http_requests_total{method="POST",route="/mcp",status="200"}`,
		} {
			if !strings.Contains(string(r.body), series) {
				t.Errorf("metrics lack %s", series)
			}
		}
	})
}

// apiKey creates a personal API key of u with scopes and returns it and
// its id.
func (u apiUser) apiKey(t *testing.T, name string, scopes ...string) (key, id string) {
	t.Helper()
	var created struct {
		Key string `json:"key"`
		ID  string `json:"id"`
	}
	expect(t, u.json(t, http.MethodPost, "/api-keys", map[string]any{"name": name, "scopes": scopes}), http.StatusCreated, &created)
	if !strings.HasPrefix(created.Key, "nf_") || created.ID == "" {
		t.Fatalf("created key %+v", created)
	}
	return created.Key, created.ID
}

// TestE2EMCPWithAPIKeys connects agents with personal API keys: a key's
// scopes decide which tools and resources answer (a refusal is a tool
// error naming the missing scope, the 403 of the HTTP API), and a revoked
// key is refused.
func TestE2EMCPWithAPIKeys(t *testing.T) {
	s := startE2E(t, e2eOptions{})
	a := s.user(t, "e2e_mcpkey_a", "")
	events := a.subscribeEvents(t)
	file := uploadFile(t, a, "sales.csv", "text/csv", salesCSV(saleRows(1, 10)))
	waitProcessed(t, events, file.ID)
	var d dv1.Dataset
	expect(t, a.form(t, http.MethodPost, "/datasets/convert", url.Values{"file_id": {file.ID}, "dataset_name": {"sales"}}), http.StatusCreated, &d)

	readKey, _ := a.apiKey(t, "reader", "datasets:read", "files:read")
	queryKey, queryKeyID := a.apiKey(t, "querier", "datasets:query")

	t.Run("a key without datasets:query may not run query", func(t *testing.T) {
		cs, err := s.connectMCP(t, "Authorization", "Bearer "+readKey)
		if err != nil {
			t.Fatal(err)
		}
		var list mcpDatasets
		callOK(t, cs, "list_datasets", map[string]any{}, &list)
		if !slices.Equal(datasetNames(list), []string{"sales"}) {
			t.Fatalf("datasets %v", datasetNames(list))
		}
		var files mcpFiles
		callOK(t, cs, "list_files", map[string]any{}, &files)
		// The HTTP API's 403, word for word.
		r := doHTTP(t, http.MethodPost, s.base+"/datasets/query", readKey, strings.NewReader(`{"query":"SELECT 1"}`), "application/json")
		httpMsg := expectAPIError(t, r, http.StatusForbidden).Errors[0].Message
		msg := callFails(t, cs, "query", map[string]any{"sql": "SELECT count(*) FROM sales"})
		if !strings.HasPrefix(msg, "forbidden: ") || !strings.Contains(msg, `"datasets:query"`) || !strings.Contains(msg, httpMsg) {
			t.Fatalf("query with a read key: %q (HTTP %q)", msg, httpMsg)
		}
		if msg := callFails(t, cs, "convert_file", map[string]any{"file_id": file.ID, "dataset_name": "copy"}); !strings.Contains(msg, `"datasets:write"`) {
			t.Fatalf("convert with a read key: %q", msg)
		}
	})

	t.Run("X-API-Key, and a query key may not read the catalogue", func(t *testing.T) {
		cs, err := s.connectMCP(t, "X-API-Key", queryKey)
		if err != nil {
			t.Fatal(err)
		}
		var tab mcpTable
		callOK(t, cs, "query", map[string]any{"sql": "SELECT count(*) AS n FROM sales"}, &tab)
		if tab.Rows[0][0] != float64(10) {
			t.Fatalf("count %v", tab.Rows)
		}
		if msg := callFails(t, cs, "list_datasets", map[string]any{}); !strings.Contains(msg, `"datasets:read"`) {
			t.Fatalf("list_datasets with a query key: %q", msg)
		}
		if msg := callFails(t, cs, "file_preview", map[string]any{"file_id": file.ID}); !strings.Contains(msg, `"files:read"`) {
			t.Fatalf("file_preview with a query key: %q", msg)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := cs.ListResources(ctx, nil); err == nil || !strings.Contains(err.Error(), `"datasets:read"`) {
			t.Fatalf("resources/list with a query key: %v", err)
		}
		if _, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "dataset://sales"}); err == nil || !strings.Contains(err.Error(), `"datasets:read"`) {
			t.Fatalf("resources/read with a query key: %v", err)
		}
	})

	t.Run("a revoked key is refused", func(t *testing.T) {
		cs, err := s.connectMCP(t, "X-API-Key", queryKey)
		if err != nil {
			t.Fatal(err)
		}
		expect(t, a.do(t, http.MethodPost, "/api-keys/"+queryKeyID+"/revoke", nil, ""), http.StatusOK, nil)
		// Revocation reaches every instance by an event; this one too.
		testkit.Eventually(t, 10*time.Second, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "query", Arguments: map[string]any{"sql": "SELECT 1"}})
			if err == nil || !strings.Contains(err.Error(), "Unauthorized") {
				return fmt.Errorf("a call with the revoked key: %v", err)
			}
			return nil
		})
		if _, err := s.connectMCP(t, "X-API-Key", queryKey); err == nil || !strings.Contains(err.Error(), "Unauthorized") {
			t.Fatalf("connect with the revoked key: %v", err)
		}
		if _, err := s.connectMCP(t, "Authorization", "Bearer "+readKey); err != nil {
			t.Fatalf("the other key stopped working too: %v", err)
		}
	})
}
