package all_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
)

// convertWithKey posts a convert form with an Idempotency-Key header.
func convertWithKey(t *testing.T, u apiUser, key string, form url.Values) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u.base+"/datasets/convert", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+u.token)
	req.Header.Set("Idempotency-Key", key)
	return doRequest(t, req)
}

// A client that lost a convert's answer may send it again: with the same
// Idempotency-Key it gets the dataset the first request made (200), and
// nothing is converted twice; the key with another file is a 422 naming
// it. Without a key, the same name and file answer with that dataset too,
// instead of a 409.
func TestE2EConvertRetriesAnswerWithTheDataset(t *testing.T) {
	s := startE2E(t, e2eOptions{})
	a := s.user(t, "e2e_retry_a", "")
	events := a.subscribeEvents(t)
	sales := uploadFile(t, a, "sales.csv", "text/csv", salesCSV(saleRows(1, 20)))
	more := uploadFile(t, a, "more.csv", "text/csv", salesCSV(saleRows(21, 5)))
	waitAllProcessed(t, events, sales.ID, more.ID)

	const key = "7c44a1e2-5b0d-4f3e-8a9c-2d1f0b6e3a57"
	form := url.Values{"file_id": {sales.ID}, "dataset_name": {"sales"}}
	var first, again dv1.Dataset
	expect(t, convertWithKey(t, a, key, form), http.StatusCreated, &first)
	env := expect(t, convertWithKey(t, a, key, form), http.StatusOK, &again)
	if again.ID != first.ID || again.Status != dv1.StatusReady || again.RowCount != 20 || !strings.Contains(env.Message, "already") {
		t.Fatalf("repeat = %+v (%q), want dataset %s", again, env.Message, first.ID)
	}

	env = expectAPIError(t, convertWithKey(t, a, key, url.Values{"file_id": {more.ID}, "dataset_name": {"sales"}}), http.StatusUnprocessableEntity)
	if env.Errors[0].Field != "idempotency_key" {
		t.Fatalf("reused key: %+v", env.Errors)
	}

	var retried dv1.Dataset
	expect(t, a.form(t, http.MethodPost, "/datasets/convert", form), http.StatusOK, &retried)
	if retried.ID != first.ID {
		t.Fatalf("retry without a key answered dataset %s, want %s", retried.ID, first.ID)
	}
	expectAPIError(t, a.form(t, http.MethodPost, "/datasets/convert", url.Values{"file_id": {more.ID}, "dataset_name": {"sales"}}), http.StatusConflict)

	list, total := listPage(t, a, "")
	if total != 1 || len(list) != 1 || list[0].ID != first.ID {
		t.Fatalf("datasets after the retries: %d %v, want only %s", total, datasetIDs(list), first.ID)
	}
}
