package duck

import (
	"context"
	"database/sql"
	"fmt"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// CheckSize reports whether DuckDB accepts size for setting
// (memory_limit, max_temp_directory_size). DuckDB itself is asked, on a
// private in-memory database, so the service accepts at start exactly what
// its sessions accept later ("1GB", "1.5 GiB", "none"…, not "1000").
func CheckSize(setting, size string) error {
	switch setting {
	case "memory_limit", "max_temp_directory_size":
	default:
		return fmt.Errorf("duck: %s is not a size setting", setting)
	}
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		return fmt.Errorf("duck: open a database to check %s: %w", setting, err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), "SET "+setting+" = "+sqlString(size)); err != nil {
		return fmt.Errorf("duck: %s: %w", setting, err)
	}
	return nil
}
