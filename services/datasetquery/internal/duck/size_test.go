package duck

import (
	"database/sql"
	"testing"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// CheckSize accepts exactly what DuckDB accepts as a memory_limit and a
// max_temp_directory_size, odd cases included.
func TestCheckSizeAgreesWithDuckDB(t *testing.T) {
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	for _, size := range []string{
		"1GB", "1gb", "1 GB", "1.5GB", ".5GB", "5.GB", "1G", "512MiB", "1.5 GiB", "10 KB", "1E3MB", "2 gigabytes",
		"1 kilobyte", "1 megabytes", "1m", "1t", "1 terabytes", "1byte", "1 bytes", "1b", "1mib", "1 tib", "0GB",
		" 1GB", "\t1GB", "1\tGB", "1GB ", "1 GB\t", "1GB x", "1 GB x", "1GiB  ",
		"none", "null", "-1", "-5GB", "-", "-x",
		"NONE", "None", "NULL", "", "lots", "1000", "0", "1e3", "80%", "1GBx", "1.2.3GB", "1e", "1-2GB",
		"1pb", "1PiB", "inf GB", "nanGB", "+1GB", "99999999999999999999GB",
	} {
		for _, setting := range []string{"memory_limit", "max_temp_directory_size"} {
			_, duckErr := db.Exec("SET " + setting + " = " + sqlString(size))
			if err := CheckSize(size); (err == nil) != (duckErr == nil) {
				t.Errorf("%s = %q: CheckSize says %v, DuckDB says %v", setting, size, err, duckErr)
			}
		}
	}
}
