package duck

import (
	"errors"
	"regexp"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Sentinel errors of the SQL guard and the session limits.
var (
	// ErrEmptyQuery: the text holds no statement.
	ErrEmptyQuery = errors.New("query is empty")
	// ErrMultipleStatements: more than one statement in one request.
	ErrMultipleStatements = errors.New("exactly one SQL statement is allowed")
	// ErrNotReadOnly: the statement is not a query (COPY, ATTACH, SET…).
	ErrNotReadOnly = errors.New("only read-only queries (SELECT, WITH, VALUES, PIVOT, DESCRIBE, SUMMARIZE, EXPLAIN) are allowed")
	// ErrTooManyQueries: the user already runs as many queries as allowed.
	ErrTooManyQueries = errors.New("too many queries running at once")
	// ErrTimeout: the statement outlived the query timeout and was interrupted.
	ErrTimeout = errors.New("query timed out")
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

// pathInMessage matches quoted absolute paths and the service's own
// directories in DuckDB's messages, which must not reach the user.
var pathInMessage = regexp.MustCompile(`(["'])/[^"']*(["'])|/[^\s"':,)]*/[^\s"':,)]*`)

// scrubPaths removes file system paths from a DuckDB message.
func scrubPaths(msg string) string {
	return pathInMessage.ReplaceAllStringFunc(msg, func(m string) string {
		if m[0] == '"' || m[0] == '\'' {
			return m[:1] + "<path>" + m[len(m)-1:]
		}
		return "<path>"
	})
}
