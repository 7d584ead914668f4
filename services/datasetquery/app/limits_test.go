package app_test

import (
	"context"
	"testing"
	"time"

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/services/datasetquery/app"
)

// endless never finishes on its own.
const endless = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r"

// A query that times out is a timeout (504, "query timed out after N s"),
// not an outage: with the caller's deadline just past the query timeout,
// and with a caller's deadline shorter than the query timeout, the service
// answers before the caller gives up. When the two were equal the caller
// heard 503 "dataset service did not answer in time".
func TestQueryTimeoutIsNotAnOutage(t *testing.T) {
	for _, tc := range []struct {
		name         string
		queryTimeout time.Duration
		deadline     time.Duration
		message      string
	}{
		{"query timeout first", 2 * time.Second, 3 * time.Second, "query timed out after 2 s"},
		{"caller's deadline first", time.Minute, 3 * time.Second, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, func(c *app.Config) {
				c.DuckDBQueryTimeout = config.Duration(tc.queryTimeout)
				c.DuckDBThreads = 1
			})
			ctx, cancel := context.WithTimeout(as(alice), tc.deadline)
			defer cancel()
			_, err := e.ds.Query(ctx, dv1.QueryRequest{Query: endless})
			re, ok := rpcerr.As(err)
			if !ok || re.Code != rpcerr.Timeout || re.HTTPStatus() != 504 {
				t.Fatalf("error %v, want a timeout (504)", err)
			}
			if tc.message != "" && re.Message != tc.message {
				t.Errorf("message %q, want %q", re.Message, tc.message)
			}
			if ctx.Err() != nil {
				t.Errorf("answered after the caller's deadline")
			}
		})
	}
}

// A control character in a declared column name is a 422 naming the
// schema, not DuckDB's failure as a 500.
func TestCreateRefusesControlCharactersInColumnNames(t *testing.T) {
	e := start(t)
	ctx, cancel := context.WithTimeout(as(alice), 30*time.Second)
	defer cancel()
	for _, name := range []string{"a\x00b", "line\nbreak", "esc\x1b[31m"} {
		_, err := e.ds.Create(ctx, dv1.CreateRequest{DatasetName: "t", Schema: []dv1.Column{
			{ColumnName: "id", ColumnType: "integer"}, {ColumnName: name, ColumnType: "string"},
		}})
		re, ok := rpcerr.As(err)
		if !ok || re.Code != rpcerr.Validation || re.Field != "schema" {
			t.Errorf("column %q: %v, want 422 on schema", name, err)
		}
	}
	if _, err := e.ds.Create(ctx, dv1.CreateRequest{DatasetName: "t", Schema: []dv1.Column{{ColumnName: "naïve name", ColumnType: "string"}}}); err != nil {
		t.Fatalf("a printable name: %v", err)
	}
}
