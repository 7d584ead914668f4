package duck

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/duckdb/duckdb-go/v2/mapping"

	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
)

// sqlGuard is the SQL guard: it admits a query only when DuckDB's own parser
// makes one read-only statement of it that names nothing restricted (see
// check). It parses on a private in-memory database that holds no data and
// is never used to run anything.
//
// It exists because duckdb-go's PrepareContext, given several statements,
// executes all but the last one before preparing the last: counting first is
// the only way to refuse "SELECT 1; COPY … TO …" without running the COPY.
//
// It also classifies the statement before anything is bound: DuckDB
// rewrites PRAGMA into a SELECT while preparing, so the prepared statement
// type alone cannot tell "PRAGMA database_list" from a query. The parser
// database (empty, no file access, configuration locked) serializes the
// parse tree with json_serialize_sql, which succeeds only for SELECT
// statements (WITH, VALUES, FROM-first, DESCRIBE, SHOW, SUMMARIZE).
type sqlGuard struct {
	mu   sync.Mutex
	db   mapping.Database
	conn mapping.Connection

	sqlDB     *sql.DB
	serialize *sql.Stmt

	verdicts verdictCache
}

// verdictCache remembers the guard's verdict and the table names of recent
// query texts: both depend on the text alone, and dashboards and agents
// send the same statements again and again.
type verdictCache struct {
	mu    sync.Mutex
	byKey map[string]verdict
	ring  []string // insertion order; the oldest is evicted first
	next  int
}

type verdict struct {
	names []string
	// statements is how many statements DuckDB makes of the text: 1, or
	// more for a PIVOT that lists its values first.
	statements int
	err        error
}

const (
	verdictCacheSize = 512
	// maxCachedQuery keeps the cache small; longer texts are checked
	// every time.
	maxCachedQuery = 4 << 10
)

func (v *verdictCache) get(query string) (verdict, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	r, ok := v.byKey[query]
	return r, ok
}

func (v *verdictCache) put(query string, r verdict) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.byKey == nil {
		v.byKey = make(map[string]verdict, verdictCacheSize)
		v.ring = make([]string, verdictCacheSize)
	}
	if _, ok := v.byKey[query]; ok {
		return
	}
	if len(v.byKey) == len(v.ring) {
		delete(v.byKey, v.ring[v.next])
	}
	v.ring[v.next] = query
	v.next = (v.next + 1) % len(v.ring)
	v.byKey[query] = r
}

// inspect runs the guard (check) and returns the table names the query
// refers to, from DuckDB's parser, and how many statements DuckDB makes of
// it. Verdicts on short texts are remembered; failures of the classifier
// itself are not.
func (g *sqlGuard) inspect(ctx context.Context, query string) (verdict, error) {
	cacheable := len(query) <= maxCachedQuery
	if cacheable {
		if r, ok := g.verdicts.get(query); ok {
			return r, r.err
		}
	}
	var r verdict
	if r.statements, r.err = g.check(ctx, query); r.err == nil {
		names, err := g.tableNames(ctx, query)
		if err != nil {
			return verdict{}, err
		}
		r.names = names
	} else if !isVerdict(r.err) {
		return verdict{}, r.err
	}
	if cacheable {
		g.verdicts.put(query, r)
	}
	return r, r.err
}

// isVerdict tells the guard refusing a query from the guard failing.
func isVerdict(err error) bool {
	var qe *datasets.QueryError
	return errors.As(err, &qe) || errors.Is(err, datasets.ErrEmptyQuery) || errors.Is(err, datasets.ErrMultipleStatements) || errors.Is(err, datasets.ErrNotReadOnly)
}

// tableNames lists the tables query names, parsed on the classifier
// database (parsing binds nothing, so any database gives the same names).
func (g *sqlGuard) tableNames(ctx context.Context, query string) ([]string, error) {
	conn, err := g.sqlDB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("classify statement: %w", err)
	}
	defer conn.Close()
	names, err := duckdb.GetTableNames(conn, query, false)
	if err != nil {
		return nil, fmt.Errorf("list tables of statement: %w", err)
	}
	return names, nil
}

func newSQLGuard() (*sqlGuard, error) {
	g := &sqlGuard{}
	if mapping.Open(":memory:", &g.db) == mapping.StateError {
		return nil, errors.New("open DuckDB parser database")
	}
	if mapping.Connect(g.db, &g.conn) == mapping.StateError {
		mapping.Close(&g.db)
		return nil, errors.New("connect DuckDB parser database")
	}
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		g.close()
		return nil, fmt.Errorf("open DuckDB classifier database: %w", err)
	}
	g.sqlDB = sql.OpenDB(connector)
	for _, stmt := range []string{
		"SET GLOBAL enable_external_access = false",
		"SET GLOBAL autoinstall_known_extensions = false",
		"SET GLOBAL lock_configuration = true",
	} {
		if _, err := g.sqlDB.Exec(stmt); err != nil {
			g.close()
			return nil, fmt.Errorf("configure DuckDB classifier database: %w", err)
		}
	}
	// Prepared once: planning the wrapper query is most of a classification.
	g.serialize, err = g.sqlDB.Prepare("SELECT json_serialize_sql($1::VARCHAR)::VARCHAR")
	if err != nil {
		g.close()
		return nil, fmt.Errorf("prepare DuckDB classifier statement: %w", err)
	}
	return g, nil
}

// serializedStatements is json_serialize_sql's answer.
type serializedStatements struct {
	Error        bool              `json:"error"`
	ErrorType    string            `json:"error_type"`
	ErrorMessage string            `json:"error_message"`
	Statements   []json.RawMessage `json:"statements"`
}

// check admits exactly one statement that DuckDB parses as a SELECT, or a
// PIVOT/UNPIVOT statement (which DuckDB turns into a SELECT but does not
// serialize), and refuses the introspection that would show the server's
// settings and paths (see restricted). The prepared statement's type is
// checked again later. It returns how many statements DuckDB makes of the
// query, or ErrEmptyQuery, ErrMultipleStatements, ErrNotReadOnly or a
// *QueryError with DuckDB's parser message.
func (g *sqlGuard) check(ctx context.Context, query string) (int, error) {
	var raw string
	if err := g.serialize.QueryRowContext(ctx, query).Scan(&raw); err != nil {
		return 0, fmt.Errorf("classify statement: %w", err)
	}
	var out serializedStatements
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		return 0, fmt.Errorf("classify statement: %w", err)
	}
	switch {
	case !out.Error && len(out.Statements) == 1:
		return 1, restrictedInTree(out.Statements[0])
	case !out.Error && len(out.Statements) == 0:
		return 0, datasets.ErrEmptyQuery
	case !out.Error:
		return 0, datasets.ErrMultipleStatements
	case out.ErrorType == "parser":
		return 0, &datasets.QueryError{Message: "Parser Error: " + out.ErrorMessage}
	}
	// Not serializable: count before judging, so "SELECT 1; COPY …" is
	// refused as two statements, whatever the second one is.
	n, err := g.count(query)
	switch {
	case err != nil:
		return 0, err
	case n == 0:
		return 0, datasets.ErrEmptyQuery
	case n > 1:
		// A PIVOT without an IN list is, to DuckDB, statements that
		// create its value lists followed by the SELECT. They come from
		// one statement of the text only if the text still parses inside
		// parentheses (where a second statement of the user's cannot
		// stand) into as many statements; the SELECT is checked again
		// when prepared.
		if m, err := g.count("SELECT * FROM (\n" + statementBody(query) + "\n)"); err != nil || m != n {
			return 0, datasets.ErrMultipleStatements
		}
		return n, restrictedInText(query)
	}
	switch strings.ToUpper(firstKeyword(query)) {
	case "PIVOT", "UNPIVOT", "PIVOT_WIDER", "PIVOT_LONGER":
		return 1, restrictedInText(query)
	}
	return 0, datasets.ErrNotReadOnly
}

// firstKeyword is the first word of query after leading blanks, comments
// and parentheses.
func firstKeyword(query string) string {
	q := query
	for {
		q = strings.TrimLeftFunc(q, func(r rune) bool { return unicode.IsSpace(r) || r == '(' })
		switch {
		case strings.HasPrefix(q, "--"):
			if i := strings.IndexByte(q, '\n'); i >= 0 {
				q = q[i+1:]
				continue
			}
			return ""
		case strings.HasPrefix(q, "/*"):
			if i := strings.Index(q, "*/"); i >= 0 {
				q = q[i+2:]
				continue
			}
			return ""
		}
		end := strings.IndexFunc(q, func(r rune) bool { return !(unicode.IsLetter(r) || r == '_') })
		if end < 0 {
			return q
		}
		return q[:end]
	}
}

// count returns how many statements query holds; a syntax error is a
// *QueryError carrying DuckDB's message.
func (g *sqlGuard) count(query string) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var stmts mapping.ExtractedStatements
	n := mapping.ExtractStatements(g.conn, query, &stmts)
	defer mapping.DestroyExtracted(&stmts)
	if n == 0 {
		if msg := mapping.ExtractStatementsError(stmts); msg != "" {
			return 0, &datasets.QueryError{Message: msg}
		}
		return 0, nil
	}
	return int(n), nil
}

func (g *sqlGuard) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.serialize != nil {
		_ = g.serialize.Close()
	}
	if g.sqlDB != nil {
		_ = g.sqlDB.Close()
	}
	mapping.Disconnect(&g.conn)
	mapping.Close(&g.db)
}

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
