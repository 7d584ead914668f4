package all_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
)

// wideSchema is n columns with names of about nameLen bytes.
func wideSchema(n, nameLen int) []map[string]string {
	cols := make([]map[string]string, n)
	for i := range cols {
		name := fmt.Sprintf("c%d_", i)
		cols[i] = map[string]string{"column_name": name + strings.Repeat("x", max(nameLen-len(name), 1)), "column_type": "integer"}
	}
	return cols
}

// Lists whose datasets together are larger than one NATS message are
// answered whole (the gateway follows the service's pages), a dataset too
// wide for one message cannot be made, and the single-item route answers
// for the widest allowed.
func TestE2EWideDatasetsList(t *testing.T) {
	s := startE2E(t, e2eOptions{})
	a := s.user(t, "e2e_wide_a", "")

	// 3 datasets of 4000 columns with 100-byte names: about 500 KB of JSON
	// each, 1.5 MB together, over the 1 MiB NATS payload.
	var ids []string
	for i := range 3 {
		var d dv1.Dataset
		expect(t, a.json(t, http.MethodPost, "/datasets/create", map[string]any{
			"dataset_name": fmt.Sprintf("wide%d", i), "schema": wideSchema(4000, 100),
		}), http.StatusCreated, &d)
		ids = append(ids, d.ID)
	}
	list, meta := listPageMeta(t, a, "")
	if len(list) != 3 || meta.Total != 3 {
		t.Fatalf("list of wide datasets: %d items, total %d", len(list), meta.Total)
	}
	for _, d := range list {
		if len(d.DataSchema) != 4000 {
			t.Fatalf("listed dataset %s has %d columns, want 4000", d.Name, len(d.DataSchema))
		}
	}
	// A window within the list still holds exactly what it asks for.
	if list, _ := listPage(t, a, "?skip=1&limit=1"); len(list) != 1 || list[0].ID != ids[1] {
		t.Fatalf("window skip=1 limit=1: %v", datasetIDs(list))
	}
	var one dv1.Dataset
	expect(t, a.get(t, "/datasets/"+ids[0]), http.StatusOK, &one)
	if len(one.DataSchema) != 4000 {
		t.Fatalf("get: %d columns", len(one.DataSchema))
	}

	// More than DATASET_MAX_COLUMNS: refused, with the limit in the message.
	env := expectAPIError(t, a.json(t, http.MethodPost, "/datasets/create", map[string]any{
		"dataset_name": "too_wide", "schema": wideSchema(5000, 4),
	}), http.StatusUnprocessableEntity)
	if !strings.Contains(env.Message, "at most") {
		t.Fatalf("refusal of 5000 columns says %q", env.Message)
	}
	// Descriptions cannot grow a schema past what one message carries.
	expectAPIError(t, a.json(t, http.MethodPut, "/datasets/"+ids[0]+"/schema", map[string]string{
		"c0_" + strings.Repeat("x", 97): strings.Repeat("d", 5000),
	}), http.StatusUnprocessableEntity)
}
