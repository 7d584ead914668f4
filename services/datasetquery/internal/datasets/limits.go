package datasets

import "fmt"

// A dataset's document travels whole in one NATS message (get, and a page
// of the list), so its schema must stay well under the 1 MiB payload.
const (
	// maxDescBytes caps one column description.
	maxDescBytes = 4 << 10
	// maxSchemaBytes caps a schema's names and descriptions together.
	maxSchemaBytes = 512 << 10
)

// checkSchemaSize refuses a schema too large to travel with its dataset.
func checkSchemaSize(cols []Column) error {
	total := 0
	for _, c := range cols {
		if len(c.Desc) > maxDescBytes {
			return invalid(c.Name, fmt.Sprintf("description is %d bytes; at most %d", len(c.Desc), maxDescBytes))
		}
		total += len(c.Name) + len(c.Desc)
	}
	if total > maxSchemaBytes {
		return invalid("schema", fmt.Sprintf("column names and descriptions total %d bytes; at most %d", total, maxSchemaBytes))
	}
	return nil
}
