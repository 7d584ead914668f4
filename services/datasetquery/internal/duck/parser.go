package duck

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/duckdb/duckdb-go/v2/mapping"

	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
)

// statementCounter splits SQL with DuckDB's own parser on a private
// in-memory database that holds no data and is never used to run anything.
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
type statementCounter struct {
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
func (c *statementCounter) inspect(ctx context.Context, query string) (verdict, error) {
	cacheable := len(query) <= maxCachedQuery
	if cacheable {
		if r, ok := c.verdicts.get(query); ok {
			return r, r.err
		}
	}
	var r verdict
	if r.statements, r.err = c.check(ctx, query); r.err == nil {
		names, err := c.tableNames(ctx, query)
		if err != nil {
			return verdict{}, err
		}
		r.names = names
	} else if !isVerdict(r.err) {
		return verdict{}, r.err
	}
	if cacheable {
		c.verdicts.put(query, r)
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
func (c *statementCounter) tableNames(ctx context.Context, query string) ([]string, error) {
	conn, err := c.sqlDB.Conn(ctx)
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

func newStatementCounter() (*statementCounter, error) {
	c := &statementCounter{}
	if mapping.Open(":memory:", &c.db) == mapping.StateError {
		return nil, errors.New("open DuckDB parser database")
	}
	if mapping.Connect(c.db, &c.conn) == mapping.StateError {
		mapping.Close(&c.db)
		return nil, errors.New("connect DuckDB parser database")
	}
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		c.close()
		return nil, fmt.Errorf("open DuckDB classifier database: %w", err)
	}
	c.sqlDB = sql.OpenDB(connector)
	for _, stmt := range []string{
		"SET GLOBAL enable_external_access = false",
		"SET GLOBAL autoinstall_known_extensions = false",
		"SET GLOBAL lock_configuration = true",
	} {
		if _, err := c.sqlDB.Exec(stmt); err != nil {
			c.close()
			return nil, fmt.Errorf("configure DuckDB classifier database: %w", err)
		}
	}
	// Prepared once: planning the wrapper query is most of a classification.
	c.serialize, err = c.sqlDB.Prepare("SELECT json_serialize_sql($1::VARCHAR)::VARCHAR")
	if err != nil {
		c.close()
		return nil, fmt.Errorf("prepare DuckDB classifier statement: %w", err)
	}
	return c, nil
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
func (c *statementCounter) check(ctx context.Context, query string) (int, error) {
	var raw string
	if err := c.serialize.QueryRowContext(ctx, query).Scan(&raw); err != nil {
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
	n, err := c.count(query)
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
		if m, err := c.count("SELECT * FROM (\n" + statementBody(query) + "\n)"); err != nil || m != n {
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
func (c *statementCounter) count(query string) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var stmts mapping.ExtractedStatements
	n := mapping.ExtractStatements(c.conn, query, &stmts)
	defer mapping.DestroyExtracted(&stmts)
	if n == 0 {
		if msg := mapping.ExtractStatementsError(stmts); msg != "" {
			return 0, &datasets.QueryError{Message: msg}
		}
		return 0, nil
	}
	return int(n), nil
}

func (c *statementCounter) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.serialize != nil {
		_ = c.serialize.Close()
	}
	if c.sqlDB != nil {
		_ = c.sqlDB.Close()
	}
	mapping.Disconnect(&c.conn)
	mapping.Close(&c.db)
}
