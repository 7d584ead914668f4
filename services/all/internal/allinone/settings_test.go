package allinone

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// make run applies fileingest's own settings: with FILE_MAX_SIZE=1000 an
// upload grant for 2,000 bytes is refused as too large, one for 500 is
// given (before, the all-in-one kept the 5 GiB default whatever was set).
func TestMakeRunAppliesServiceSettings(t *testing.T) {
	t.Setenv("FILE_MAX_SIZE", "1000")
	port := freePort(t)
	startChild(t, t.TempDir(), port)
	token := devToken(t, port)
	grant := func(size int) (int, string) {
		t.Helper()
		body := `{"file_name":"a.csv","file_size":` + strconv.Itoa(size) + `,"file_type":"text/csv"}`
		req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:"+strconv.Itoa(port)+"/api/v1/file/upload-url", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("upload-url: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := grant(2000); code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "larger than") {
		t.Fatalf("2,000 bytes under FILE_MAX_SIZE=1000: %d %s", code, body)
	}
	if code, body := grant(500); code != http.StatusOK {
		t.Fatalf("500 bytes under FILE_MAX_SIZE=1000: %d %s", code, body)
	}
}
