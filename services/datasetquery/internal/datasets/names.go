package datasets

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
)

var namePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// sqlKeywords are words a dataset may not be named: a table named after
// them would need quoting in every query. DuckDB's reserved keywords plus
// the common SQL ones.
var sqlKeywords = []string{
	"all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "between", "both", "by",
	"case", "cast", "check", "collate", "column", "constraint", "create", "cross", "default", "deferrable",
	"delete", "desc", "describe", "distinct", "do", "drop", "else", "end", "except", "false", "fetch", "for",
	"foreign", "from", "full", "grant", "group", "having", "in", "initially", "inner", "insert", "intersect",
	"into", "is", "join", "lateral", "leading", "left", "like", "limit", "natural", "not", "null", "offset",
	"on", "only", "or", "order", "outer", "pivot", "pivot_longer", "pivot_wider", "placing", "primary",
	"qualify", "references", "returning", "right", "select", "show", "some", "summarize", "symmetric",
	"table", "then", "to", "trailing", "true", "union", "unique", "unpivot", "update", "using", "values",
	"variadic", "when", "where", "window", "with",
}

// ValidateName checks a dataset name: 1–63 of [A-Za-z_][A-Za-z0-9_]*, not a
// SQL keyword.
func ValidateName(name string) error {
	if !namePattern.MatchString(name) {
		return invalid("dataset_name", "must be 1-63 letters, digits or underscores, not starting with a digit")
	}
	if slices.Contains(sqlKeywords, strings.ToLower(name)) {
		return invalid("dataset_name", "must not be an SQL keyword")
	}
	return nil
}

// duckTypes maps the vocabulary onto DuckDB column types.
var duckTypes = map[string]string{
	"string": "VARCHAR", "varchar": "VARCHAR", "text": "VARCHAR",
	"integer": "INTEGER", "bigint": "BIGINT", "smallint": "SMALLINT", "tinyint": "TINYINT", "hugeint": "HUGEINT",
	"float": "FLOAT", "double": "DOUBLE", "decimal": "DECIMAL(18,3)", "numeric": "DECIMAL(18,3)",
	"boolean": "BOOLEAN", "bool": "BOOLEAN",
	"date": "DATE", "timestamp": "TIMESTAMP", "datetime": "TIMESTAMP", "timestamptz": "TIMESTAMPTZ",
	"time": "TIME", "interval": "INTERVAL", "uuid": "UUID", "blob": "BLOB",
	"json": "JSON", "array": "VARCHAR[]", "struct": "JSON",
}

// DuckType is the DuckDB type of a vocabulary type.
func DuckType(t string) (string, bool) {
	d, ok := duckTypes[strings.ToLower(t)]
	return d, ok
}

// VocabularyType maps a DuckDB type name back onto the vocabulary, naming
// each type for what it holds: a TIMESTAMPTZ is not a plain timestamp, a
// TIME or an INTERVAL is no string.
func VocabularyType(duckType string) string {
	t := strings.ToUpper(duckType)
	switch {
	case strings.HasSuffix(t, "[]") || strings.HasPrefix(t, "LIST"):
		return "array"
	case strings.HasPrefix(t, "STRUCT") || strings.HasPrefix(t, "MAP"):
		return "struct"
	case strings.HasPrefix(t, "DECIMAL"):
		return "decimal"
	case t == "TIMESTAMPTZ" || t == "TIMESTAMP WITH TIME ZONE":
		return "timestamptz"
	case strings.HasPrefix(t, "TIMESTAMP"):
		return "timestamp"
	}
	switch t {
	case "VARCHAR", "ENUM":
		return "string"
	case "UUID":
		return "uuid"
	case "BLOB":
		return "blob"
	case "TIME", "TIMETZ", "TIME WITH TIME ZONE":
		return "time"
	case "INTERVAL":
		return "interval"
	case "INTEGER", "UINTEGER", "USMALLINT":
		return "integer"
	case "BIGINT", "UBIGINT":
		return "bigint"
	case "HUGEINT", "UHUGEINT":
		return "hugeint"
	case "SMALLINT", "UTINYINT":
		return "smallint"
	case "TINYINT":
		return "tinyint"
	case "FLOAT":
		return "float"
	case "DOUBLE":
		return "double"
	case "BOOLEAN":
		return "boolean"
	case "DATE":
		return "date"
	case "JSON":
		return "json"
	}
	return "string"
}

// ValidateSchema checks a declared schema: at least one column, names
// unique (case-insensitively) and types from the vocabulary.
func ValidateSchema(cols []Column) error {
	if len(cols) == 0 {
		return invalid("schema", "must declare at least one column")
	}
	seen := map[string]bool{}
	for i, c := range cols {
		if strings.TrimSpace(c.Name) == "" {
			return invalid("schema", "every column needs a column_name")
		}
		if !utf8.ValidString(c.Name) || strings.IndexFunc(c.Name, unicode.IsControl) >= 0 {
			// DuckDB refuses a NUL in a name, and a line break or an
			// escape sequence in a column name only ever misleads.
			return invalid("schema", fmt.Sprintf("column %d: column_name must be UTF-8 text without control characters", i+1))
		}
		key := strings.ToLower(c.Name)
		if seen[key] {
			return invalid("schema", "duplicate column "+c.Name)
		}
		seen[key] = true
		if !slices.Contains(dv1.ColumnTypes(), strings.ToLower(c.Type)) {
			return invalid("schema", "column "+c.Name+": unknown type "+c.Type+
				" (one of "+strings.Join(dv1.ColumnTypes(), ", ")+")")
		}
	}
	return nil
}
