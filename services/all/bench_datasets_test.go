package all_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	"github.com/nonefinity/backend/services/datasetquery/salesbench"
)

// BenchmarkGroupBySumViaGateway compares, in one run on one dataset of
// 1,000,000 rows uploaded and converted through the API, a warm group-by-sum
// through POST /datasets/query (HTTP, dev auth, gateway, NATS, datasetquery)
// with the same SQL on a plain DuckDB over the dataset's Parquet part
// (downloaded once to a local file). Target: gateway ≤ 1.3× duckdb.
func BenchmarkGroupBySumViaGateway(b *testing.B) {
	s := startE2E(b, e2eOptions{})
	u := s.user(b, "bench_query", "")
	events := u.subscribeEvents(b)
	f := uploadFile(b, u, "sales.csv", "text/csv", salesbench.CSV(salesbench.Rows))
	waitProcessed(b, events, f.ID)
	var d dv1.Dataset
	expect(b, u.form(b, http.MethodPost, "/datasets/convert", url.Values{"file_id": {f.ID}, "dataset_name": {"sales"}}), http.StatusCreated, &d)
	if d.RowCount != salesbench.Rows {
		b.Fatalf("converted %+v", d)
	}

	b.Run("gateway", func(b *testing.B) {
		query := url.Values{"query": {fmt.Sprintf(salesbench.GroupBySum, "sales")}}
		run := func() {
			var res dv1.QueryReply
			expect(b, u.form(b, http.MethodPost, "/datasets/query", query), http.StatusOK, &res)
			if res.RowCount != salesbench.Categories || res.Truncated {
				b.Fatalf("query %+v", res)
			}
		}
		run()
		b.ResetTimer()
		for b.Loop() {
			run()
		}
	})
	b.Run("duckdb", func(b *testing.B) {
		salesbench.DirectGroupBySum(b, salesbench.FetchPart(b, s.store, d.OwnerID, d.ID))
	})
}
