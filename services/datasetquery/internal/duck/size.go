package duck

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// sizeUnits are the units DuckDB reads in memory_limit and
// max_temp_directory_size, lower-cased.
var sizeUnits = map[string]float64{
	"byte": 1, "bytes": 1, "b": 1,
	"kilobyte": 1e3, "kilobytes": 1e3, "kb": 1e3, "k": 1e3,
	"megabyte": 1e6, "megabytes": 1e6, "mb": 1e6, "m": 1e6,
	"gigabyte": 1e9, "gigabytes": 1e9, "gb": 1e9, "g": 1e9,
	"terabyte": 1e12, "terabytes": 1e12, "tb": 1e12, "t": 1e12,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}

// CheckSize reports whether DuckDB accepts size as a memory_limit or
// max_temp_directory_size ("1GB", "1.5 GiB", "none", but not "1000"), so a
// value its sessions would refuse at the first query is refused at start.
// It follows DuckDB's own parser (DBConfig::ParseMemoryLimit) without
// opening a database, which costs a tenth of a second;
// TestCheckSizeAgreesWithDuckDB holds the two together.
func CheckSize(size string) error {
	// A leading '-' and the exact words null and none mean no limit.
	if strings.HasPrefix(size, "-") || size == "null" || size == "none" {
		return nil
	}
	rest := strings.TrimLeft(size, " \t\n\r\v\f")
	end := strings.IndexFunc(rest, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r == '.' || r == 'e' || r == 'E' || r == '-')
	})
	if end < 0 {
		end = len(rest)
	}
	if end == 0 {
		return errors.New("no number")
	}
	n, err := strconv.ParseFloat(rest[:end], 64)
	if err != nil {
		return errors.New("not a number")
	}
	if n < 0 {
		return nil
	}
	unit, _, _ := strings.Cut(strings.TrimLeft(rest[end:], " \t\n\r\v\f"), " ")
	unit, _, _ = strings.Cut(unit, "\t")
	mult, ok := sizeUnits[strings.ToLower(unit)]
	if !ok {
		return errors.New("unknown unit")
	}
	if n*mult >= math.MaxUint64 {
		return errors.New("too large")
	}
	return nil
}
