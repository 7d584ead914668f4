package duck

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
)

// readOnlyStatement reports whether DuckDB's parser classified a prepared
// statement as one that only reads. WITH, VALUES, PIVOT, DESCRIBE, SHOW and
// SUMMARIZE are all SELECT statements to DuckDB; EXPLAIN only plans (EXPLAIN
// ANALYZE runs the same read-only query).
func readOnlyStatement(t duckdb.StmtType) bool {
	switch t {
	case duckdb.STATEMENT_TYPE_SELECT, duckdb.STATEMENT_TYPE_EXPLAIN:
		return true
	}
	return false
}

// restrictedFunctions show the server's configuration and paths (every
// setting, the database and spill files, extension directories, the view
// definitions naming the cached Parquet files) or run SQL text the guard
// never saw (query, query_table). A user's datasets are views over files
// under the service's directory: what those are is not the user's
// business.
var restrictedFunctions = []string{
	"current_setting", "duckdb_settings", "duckdb_databases", "duckdb_temporary_files", "duckdb_extensions",
	"duckdb_views", "duckdb_tables", "duckdb_indexes", "duckdb_logs", "duckdb_log_contexts",
	"pragma_database_list", "query", "query_table",
}

// restrictedTables are the catalog views with the same content.
var restrictedTables = []string{
	"duckdb_settings", "duckdb_databases", "duckdb_views", "duckdb_tables", "duckdb_indexes",
	"pg_settings", "pg_views", "sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema",
}

// restrictedError refuses a query for naming one of the above.
func restrictedError(name string) error {
	return &datasets.QueryError{Message: fmt.Sprintf("%s is not available in queries", name)}
}

// restrictedInTree refuses a statement whose parse tree (from
// json_serialize_sql) calls a restricted function or reads a restricted
// table, at any depth.
func restrictedInTree(stmt json.RawMessage) error {
	var tree any
	if err := json.Unmarshal(stmt, &tree); err != nil {
		return fmt.Errorf("classify statement: %w", err)
	}
	return restrictedIn(tree)
}

func restrictedIn(node any) error {
	switch n := node.(type) {
	case []any:
		for _, c := range n {
			if err := restrictedIn(c); err != nil {
				return err
			}
		}
	case map[string]any:
		if fn, ok := n["function_name"].(string); ok && slices.Contains(restrictedFunctions, strings.ToLower(fn)) {
			return restrictedError(fn)
		}
		if n["type"] == "BASE_TABLE" {
			table, _ := n["table_name"].(string)
			schema, _ := n["schema_name"].(string)
			lt := strings.ToLower(table)
			if slices.Contains(restrictedTables, lt) || strings.EqualFold(schema, "information_schema") && lt == "views" {
				return restrictedError(table)
			}
		}
		for _, c := range n {
			if err := restrictedIn(c); err != nil {
				return err
			}
		}
	}
	return nil
}

var (
	restrictedNamePattern = regexp.MustCompile(`(?i)(?:^|[^\w$])"?(` + strings.Join(append(slices.Clone(restrictedTables),
		"current_setting", "duckdb_temporary_files", "duckdb_extensions", "duckdb_logs", "duckdb_log_contexts", "pragma_database_list"), "|") +
		`)"?(?:[^\w$]|$)`)
	restrictedCallPattern  = regexp.MustCompile(`(?i)(?:^|[^\w$])"?(query|query_table)"?\s*\(`)
	informationViewPattern = regexp.MustCompile(`(?i)information_schema"?\s*\.\s*"?views(?:[^\w$]|$)`)
)

// restrictedInText is restrictedInTree for the statements DuckDB does not
// serialize (PIVOT): any mention of a restricted name outside comments is
// refused, and query or query_table followed by a parenthesis.
func restrictedInText(query string) error {
	text := withoutComments(query)
	for _, p := range []*regexp.Regexp{restrictedNamePattern, restrictedCallPattern} {
		if m := p.FindStringSubmatch(text); m != nil {
			return restrictedError(m[1])
		}
	}
	if informationViewPattern.MatchString(text) {
		return restrictedError("information_schema.views")
	}
	return nil
}
