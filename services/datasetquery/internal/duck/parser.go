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
	err   error
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
// refers to, from DuckDB's parser. Verdicts on short texts are remembered;
// failures of the classifier itself are not.
func (c *statementCounter) inspect(ctx context.Context, query string) ([]string, error) {
	cacheable := len(query) <= maxCachedQuery
	if cacheable {
		if r, ok := c.verdicts.get(query); ok {
			return r.names, r.err
		}
	}
	var r verdict
	if r.err = c.check(ctx, query); r.err == nil {
		names, err := c.tableNames(ctx, query)
		if err != nil {
			return nil, err
		}
		r.names = names
	} else if !isVerdict(r.err) {
		return nil, r.err
	}
	if cacheable {
		c.verdicts.put(query, r)
	}
	return r.names, r.err
}

// isVerdict tells the guard refusing a query from the guard failing.
func isVerdict(err error) bool {
	var qe *QueryError
	return errors.As(err, &qe) || errors.Is(err, ErrEmptyQuery) || errors.Is(err, ErrMultipleStatements) || errors.Is(err, ErrNotReadOnly)
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
// serialize); the prepared statement's type is checked again later. It
// returns ErrEmptyQuery, ErrMultipleStatements, ErrNotReadOnly or a
// *QueryError with DuckDB's parser message.
func (c *statementCounter) check(ctx context.Context, query string) error {
	var raw string
	if err := c.serialize.QueryRowContext(ctx, query).Scan(&raw); err != nil {
		return fmt.Errorf("classify statement: %w", err)
	}
	var out serializedStatements
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		return fmt.Errorf("classify statement: %w", err)
	}
	switch {
	case !out.Error && len(out.Statements) == 1:
		return nil
	case !out.Error && len(out.Statements) == 0:
		return ErrEmptyQuery
	case !out.Error:
		return ErrMultipleStatements
	case out.ErrorType == "parser":
		return &QueryError{Message: "Parser Error: " + out.ErrorMessage}
	}
	// Not serializable: count before judging, so "SELECT 1; COPY …" is
	// refused as two statements, whatever the second one is.
	switch n, err := c.count(query); {
	case err != nil:
		return err
	case n == 0:
		return ErrEmptyQuery
	case n > 1:
		return ErrMultipleStatements
	}
	switch strings.ToUpper(firstKeyword(query)) {
	case "PIVOT", "UNPIVOT", "PIVOT_WIDER", "PIVOT_LONGER":
		return nil
	}
	return ErrNotReadOnly
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
			return 0, &QueryError{Message: msg}
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

// QueryError is DuckDB refusing or failing a user's statement; Message is
// DuckDB's own text with file system paths removed.
type QueryError struct {
	Message string
}

func (e *QueryError) Error() string { return fmt.Sprintf("query: %s", e.Message) }
