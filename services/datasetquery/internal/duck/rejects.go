package duck

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
)

// rejectsColumns is the layout of a rejects file: the row's line in the
// source file, why it was not kept, and its text as it stands there.
const rejectsColumns = "{'line': 'BIGINT', 'reason': 'VARCHAR', 'raw': 'VARCHAR'}"

// WriteRejects turns the rejects CSV a preparation wrote (line, reason,
// raw, with a header) into the Parquet file dst.
func WriteRejects(ctx context.Context, lim Limits, csvPath, dst string) error {
	return withScratchConn(ctx, lim, func(conn *sql.Conn) error {
		_, err := conn.ExecContext(ctx, fmt.Sprintf(
			"COPY (SELECT * FROM read_csv(%s, header = true, delim = ',', quote = '\"', escape = '\"', auto_detect = false, columns = %s, max_line_size = %d) ORDER BY line) TO %s (%s)",
			sqlString(csvPath), rejectsColumns, 1<<20, sqlString(dst), partFormat))
		return err
	})
}

// ReadRejects reads rows [offset, offset+limit) of a rejects file, in line
// order, and how many it holds.
func ReadRejects(ctx context.Context, lim Limits, file string, offset, limit int) ([]datasets.Reject, int64, error) {
	var out []datasets.Reject
	var total int64
	err := withScratchConn(ctx, lim, func(conn *sql.Conn) error {
		src := "read_parquet(" + sqlString(file) + ")"
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+src).Scan(&total); err != nil {
			return err
		}
		rows, err := conn.QueryContext(ctx, fmt.Sprintf("SELECT line, reason, raw FROM %s ORDER BY line LIMIT %d OFFSET %d", src, limit, offset))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r datasets.Reject
			var raw sql.NullString
			if err := rows.Scan(&r.Line, &r.Reason, &raw); err != nil {
				return err
			}
			r.Raw = raw.String
			out = append(out, r)
		}
		return rows.Err()
	})
	return out, total, err
}
