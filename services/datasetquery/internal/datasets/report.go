package datasets

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/nonefinity/backend/services/datasetquery/internal/csvprep"
)

// RejectsKey is the object key of the Parquet file of a dataset's rejected
// rows.
func RejectsKey(ownerID, datasetID string) string {
	return DatasetPrefix(ownerID, datasetID) + "rejects.parquet"
}

// csvReport is the account of a CSV conversion.
func csvReport(f SourceFile, p *csvprep.Prepared, res ConvertResult, datasetID string) Report {
	r := Report{RowsRead: p.RowsRead, RowsRejected: p.Rejected.Count}
	if n := p.Rejected.Count; n > 0 {
		first := make([]string, 0, 3)
		for i, rj := range p.FirstRejects {
			if i == 3 {
				break
			}
			first = append(first, fmt.Sprintf("line %d: %s", rj.Line, rj.Reason))
		}
		r.Warnings = append(r.Warnings, Warning{Code: WarnRowsRejected, Count: n, Lines: p.Rejected.First,
			Message: fmt.Sprintf("%d of %d rows could not be read and %s not in the dataset (%s); GET /api/v1/datasets/%s/rejects lists them",
				n, p.RowsRead, isAre(n), strings.Join(first, "; "), datasetID)})
	}
	if n := p.Padded.Count; n > 0 {
		r.Warnings = append(r.Warnings, Warning{Code: WarnRowsPadded, Count: n, Lines: p.Padded.First,
			Message: fmt.Sprintf("%s had fewer fields than the table's %d columns; the missing values are NULL", rowsWord(n), len(p.Names))})
	}
	if n := p.QuotesAsText.Count; n > 0 {
		r.Warnings = append(r.Warnings, Warning{Code: WarnQuotesAsText, Count: n, Lines: p.QuotesAsText.First,
			Message: fmt.Sprintf("%s had broken quoting and were read with their quotation marks as text", rowsWord(n))})
	}
	if n := p.FallbackLines.Count; n > 0 {
		r.Warnings = append(r.Warnings, Warning{Code: WarnMixedEncoding, Count: n, Lines: p.FallbackLines.First,
			Message: fmt.Sprintf("%s were not UTF-8 and were read as %s; the rest of the file is UTF-8", linesWord(n), p.Fallback)})
	}
	if n := p.Replaced; n > 0 {
		r.Warnings = append(r.Warnings, Warning{Code: WarnReplacedCharacters, Count: n, Lines: p.ReplacedLines,
			Message: fmt.Sprintf("%d characters could not be decoded as %s and were replaced by U+FFFD; name the file's encoding to read them", n, p.Encoding)})
	}
	src := Source{FileID: f.ID, Format: kindCSV, Encoding: p.Encoding, Delimiter: string(p.FileDialect.Delimiter),
		Header: p.HasHeader, SkipRows: p.SkipRows, Preamble: p.Preamble}
	if p.FileDialect.Quote != 0 {
		src.Quote = string(p.FileDialect.Quote)
	}
	for _, n := range res.Notes {
		src.Columns = append(src.Columns, ColumnReading{Column: n.Column, NullTokens: n.NullTokens,
			DecimalSeparator: n.DecimalSeparator, Exact: n.Exact})
		if n.Exact && n.Type == "VARCHAR" {
			r.Warnings = append(r.Warnings, Warning{Code: WarnNumbersAsText, Column: n.Column,
				Message: fmt.Sprintf("column %s holds numbers longer than a double or a 38-digit decimal can hold exactly; it is kept as text", n.Column)})
		}
	}
	r.Source = src
	return r
}

// xlsxReport is the account of a spreadsheet conversion.
func xlsxReport(f SourceFile, res ConvertResult) Report {
	r := Report{RowsRead: res.Rows}
	x := res.Sheet
	src := Source{FileID: f.ID, Format: kindXLSX, Sheet: x.Name, Header: x.HeaderRow > 0, HeaderRow: x.HeaderRow,
		SkipRows: x.SkipRows, Preamble: x.Preamble}
	for _, c := range res.Columns {
		reading := ColumnReading{Column: c.Name, NullTokens: x.NullTokens[c.Name], Duration: slices.Contains(x.Durations, c.Name)}
		if reading.Duration || len(reading.NullTokens) > 0 {
			src.Columns = append(src.Columns, reading)
		}
	}
	r.Source = src
	return r
}

func rowsWord(n int64) string {
	if n == 1 {
		return "1 row"
	}
	return fmt.Sprintf("%d rows", n)
}

func isAre(n int64) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func linesWord(n int64) string {
	if n == 1 {
		return "1 line"
	}
	return fmt.Sprintf("%d lines", n)
}

// Rejects returns rows [skip, skip+limit) of the rows the dataset's
// conversion did not keep, in line order, and how many there are.
func (s *Service) Rejects(ctx context.Context, ownerID, id string, skip, limit int) ([]Reject, int64, error) {
	d, err := s.store.Get(ctx, ownerID, id)
	if err != nil {
		return nil, 0, err
	}
	if d.Rejects == nil {
		return nil, 0, nil
	}
	files, release, err := s.engine.CachedParts(ctx, ownerID, Table{Name: d.Name, DatasetID: d.ID + "-rejects", Parts: []Part{*d.Rejects}})
	if err != nil {
		return nil, 0, err
	}
	defer release()
	return s.engine.ReadRejects(ctx, files[0], skip, limit)
}
