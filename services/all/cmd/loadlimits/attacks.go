package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	cv1 "github.com/nonefinity/backend/contracts/credentialv1"
	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	fv1 "github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/services/all/internal/localrun"
)

// tally counts the attacker's answers per attack and outcome ("upload 201",
// "convert 422", "error: …"). Refusals are the expected outcome.
type tally struct {
	mu     sync.Mutex
	counts map[string]map[string]int
}

func newTally() *tally { return &tally{counts: map[string]map[string]int{}} }

func (t *tally) add(attack, outcome string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.counts[attack] == nil {
		t.counts[attack] = map[string]int{}
	}
	t.counts[attack][outcome]++
}

// attacker is user A: it runs every attack of issue #10 in a loop.
type attacker struct {
	api   *localrun.Client
	files attackFiles
	tally *tally
	// sseCap is the gateway's SSE_MAX_CONNECTIONS_PER_USER; the SSE attack
	// opens more than that.
	sseCap int
	// minRound is the shortest a round may take: cheap attacks (lists,
	// refused queries, SSRF) wait out the rest, so they test their limits
	// and not how many refusals two cores can serve per second (a request
	// flood is the rate limiter's, which this run turns off).
	minRound time.Duration
	// smallFile is a ready CSV made before the phases (atSetuper), for
	// the conversion bursts.
	smallFile string
	rounds    int64
	roundsMu  sync.Mutex
}

// attack is one of A's attacks: round runs it once; the loop repeats it.
// key names it in the report and in -attacks.
type attack struct {
	key, about string
	round      func(ctx context.Context)
}

// Attack keys.
const (
	atXLSXMedia    = "xlsx-media"
	atXLSXSheet2   = "xlsx-sheet2"
	atWideCSV      = "wide-csv"
	atHugeCells    = "huge-cells"
	atSlowQuery    = "slow-query"
	atConvertBurst = "convert-burst"
	atWideLists    = "wide-lists"
	atPresignLie   = "presign-lie"
	atSandbox      = "sandbox"
	atSSRF         = "ssrf"
	atSSE          = "sse"
	atSetup        = "setup"
)

func (a *attacker) attacks() []attack {
	return []attack{
		{atXLSXMedia, "XLSX with a zero-filled 1.5 GB xl/media part and a large 2nd sheet: upload, convert", a.xlsxMediaBomb},
		{atXLSXSheet2, "XLSX with a small 1st sheet and a 400 MB 2nd sheet: upload, convert", a.xlsxSecondSheet},
		{atWideCSV, "CSV of 100,000 columns (2.4 MB): upload, convert", a.wideCSV},
		{atHugeCells, "SELECT repeat('x', 100000000), four at once", a.hugeCells},
		{atSlowQuery, "SELECT count(*) FROM range(100000000000) a (must time out)", a.slowQuery},
		{atConvertBurst, "16 async conversions at once (over the per-user cap)", a.conversionBurst},
		{atWideLists, "unpaged GET /file/list and /datasets/list of wide files and datasets", a.wideLists},
		{atPresignLie, "upload-url for 10 B, PUT 20 MB, commit", a.lyingPresignedPut},
		{atSandbox, "COPY, ATTACH, read_csv('/etc/passwd')", a.sandboxEscapes},
		{atSSRF, "POST /credentials/test to 127.0.0.1:1 and 169.254.169.254", a.ssrfKeyTests},
		// The SSE attack holds its streams for the whole phase, so it is
		// one long round rather than a loop.
		{atSSE, "GET /events: the per-user cap plus 3, held open; 3 more every second", a.sseFlood},
	}
}

// selectAttacks keeps the attacks whose keys are listed (comma-separated;
// empty or "all" keeps every one), for finding which attack hurts B.
func selectAttacks(all []attack, list string) ([]attack, error) {
	if list == "" || list == "all" {
		return all, nil
	}
	var out []attack
	for _, key := range strings.Split(list, ",") {
		i := slices.IndexFunc(all, func(at attack) bool { return at.key == strings.TrimSpace(key) })
		if i < 0 {
			return nil, fmt.Errorf("-attacks: no attack %q", key)
		}
		out = append(out, all[i])
	}
	return out, nil
}

// run starts every attack in its own goroutine, repeating each round until
// ctx ends, and returns when all have stopped.
func (a *attacker) run(ctx context.Context, attacks []attack) {
	var wg sync.WaitGroup
	for _, at := range attacks {
		wg.Go(func() {
			for ctx.Err() == nil {
				next := time.Now().Add(a.minRound)
				at.round(ctx)
				sleep(ctx, time.Until(next))
			}
		})
	}
	wg.Wait()
}

// next is a number for unique names across concurrent rounds.
func (a *attacker) next() int64 {
	a.roundsMu.Lock()
	defer a.roundsMu.Unlock()
	a.rounds++
	return a.rounds
}

// record counts one answer of attack at step; an answer cut short by the
// end of the phase is not an outcome and is not counted.
func (a *attacker) record(ctx context.Context, attack, step string, ans localrun.Answer, err error) {
	switch {
	case err != nil && ctx.Err() != nil:
	case err != nil:
		a.tally.add(attack, step+" "+errorLabel(err))
	default:
		a.tally.add(attack, step+" "+strconv.Itoa(ans.Status))
	}
}

// uploadAndConvert uploads data, waits for processing to end, converts it
// and deletes what was made: the XLSX and wide-CSV attacks.
func (a *attacker) uploadAndConvert(ctx context.Context, attack, name, contentType string, data []byte) {
	n := a.next()
	ans, err := a.api.Upload(ctx, fmt.Sprintf("%s_%d%s", name, n, extOf(contentType)), contentType, data)
	a.record(ctx, attack, "upload", ans, err)
	var f fv1.File
	if err != nil || ans.Status != http.StatusCreated || ans.Decode(&f) != nil {
		return
	}
	defer a.api.Del(context.WithoutCancel(ctx), "/file/"+f.ID)
	status := a.waitProcessed(ctx, f.ID)
	if status == "" {
		return
	}
	a.tally.add(attack, "processed "+string(status))
	ans, err = a.api.Form(ctx, "/datasets/convert", url.Values{"file_id": {f.ID}, "dataset_name": {fmt.Sprintf("%s_%d", name, n)}})
	a.record(ctx, attack, "convert", ans, err)
	var c convertAnswer
	if err == nil && ans.OK() && ans.Decode(&c) == nil && c.datasetID() != "" {
		a.waitAndDeleteDataset(ctx, attack, c.datasetID())
	}
}

func extOf(contentType string) string {
	if contentType == "text/csv" {
		return ".csv"
	}
	return ".xlsx"
}

const xlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// xlsxMediaBomb: a workbook with a 1.5 GB zero-filled xl/media part and a
// 400 MB second sheet (issue item 1) must fail processing and never be
// converted.
func (a *attacker) xlsxMediaBomb(ctx context.Context) {
	a.uploadAndConvert(ctx, atXLSXMedia, "bomb", xlsxType, a.files.bomb)
}

// xlsxSecondSheet: a workbook under the processing limit whose second
// sheet is 400 MB of XML (item 1); converting the first sheet must not
// inflate the second.
func (a *attacker) xlsxSecondSheet(ctx context.Context) {
	a.uploadAndConvert(ctx, atXLSXSheet2, "sheet2", xlsxType, a.files.sheet2)
}

// wideCSV: 100,000 columns in 2.4 MB (items 3 and 4) must be refused at
// conversion, without holding other users' conversions.
func (a *attacker) wideCSV(ctx context.Context) {
	a.uploadAndConvert(ctx, atWideCSV, "wide", "text/csv", a.files.wide)
}

// waitProcessed polls a file until processing ends and returns its status
// ("" when the phase ended first or the file could not be read).
func (a *attacker) waitProcessed(ctx context.Context, id string) fv1.Status {
	for {
		ans, err := a.api.Get(ctx, "/file/"+id)
		var f fv1.File
		if err != nil || !ans.OK() || ans.Decode(&f) != nil {
			return ""
		}
		if f.Status == fv1.StatusReady || f.Status == fv1.StatusFailed {
			return f.Status
		}
		if sleep(ctx, 200*time.Millisecond) != nil {
			return ""
		}
	}
}

// waitAndDeleteDataset waits for an accepted conversion to end, counts how
// it ended, and deletes the dataset, so A's datasets do not pile up.
func (a *attacker) waitAndDeleteDataset(ctx context.Context, attack, id string) {
	defer a.api.Del(context.WithoutCancel(ctx), "/datasets/"+id)
	for {
		ans, err := a.api.Get(ctx, "/datasets/"+id)
		var d dv1.Dataset
		if err != nil || !ans.OK() || ans.Decode(&d) != nil {
			return
		}
		if d.Status != dv1.StatusProcessing {
			a.tally.add(attack, "dataset "+string(d.Status))
			return
		}
		if sleep(ctx, 200*time.Millisecond) != nil {
			return
		}
	}
}

// query sends one SQL statement as A.
func (a *attacker) query(ctx context.Context, sql string) (localrun.Answer, error) {
	return a.api.Form(ctx, "/datasets/query", url.Values{"query": {sql}})
}

// hugeCells: four 100 MB cells at once (item 2) must not be encoded in Go.
func (a *attacker) hugeCells(ctx context.Context) {
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			ans, err := a.query(ctx, "SELECT repeat('x', 100000000) AS x")
			a.record(ctx, atHugeCells, "query", ans, err)
		})
	}
	wg.Wait()
}

// slowQuery: a query that must time out (item 7) with its own error,
// before the gateway's deadline.
func (a *attacker) slowQuery(ctx context.Context) {
	ans, err := a.query(ctx, "SELECT count(*) FROM range(100000000000) a")
	a.record(ctx, atSlowQuery, "query", ans, err)
}

// conversionBurst: more async conversions at once than one user may have
// pending (item 3) must be refused with 429 past the cap; the accepted
// ones are waited for and deleted.
func (a *attacker) conversionBurst(ctx context.Context) {
	const attack = atConvertBurst
	const burst = 16
	n := a.next()
	ids := make([]string, burst)
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() {
			ans, err := a.api.Form(ctx, "/datasets/convert", url.Values{
				"file_id": {a.smallFile}, "dataset_name": {fmt.Sprintf("burst_%d_%d", n, i)}, "async": {"true"},
			})
			a.record(ctx, attack, "convert", ans, err)
			var c convertAnswer
			if err == nil && ans.OK() && ans.Decode(&c) == nil {
				ids[i] = c.datasetID()
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != "" {
			a.waitAndDeleteDataset(ctx, attack, id)
		}
	}
}

// wideLists: unpaged lists of files with 500-column previews and of wide
// datasets (item 4) must answer, not hang into a 503.
func (a *attacker) wideLists(ctx context.Context) {
	const attack = atWideLists
	ans, err := a.api.Get(ctx, "/file/list")
	a.record(ctx, attack, "GET /file/list", ans, err)
	ans, err = a.api.Get(ctx, "/datasets/list")
	a.record(ctx, attack, "GET /datasets/list", ans, err)
}

// lyingPresignedPut: a URL granted for 10 bytes (item 6) must not take
// 20 MB; committing the object must fail too.
func (a *attacker) lyingPresignedPut(ctx context.Context) {
	const attack = atPresignLie
	n := a.next()
	name := fmt.Sprintf("liar_%d.csv", n)
	ans, err := a.api.JSON(ctx, http.MethodPost, "/file/upload-url", fv1.UploadURLRequest{FileName: name, FileSize: 10, FileType: "text/csv"})
	a.record(ctx, attack, "upload-url", ans, err)
	var up fv1.UploadURLReply
	if err != nil || !ans.OK() || ans.Decode(&up) != nil {
		return
	}
	status, err := putPresigned(ctx, a.api.HTTP, up.UploadURL, lyingBody)
	a.record(ctx, attack, "PUT 20 MB", localrun.Answer{Status: status}, err)
	ans, err = a.api.JSON(ctx, http.MethodPost, "/file/upload", fv1.CommitRequest{ObjectName: up.ObjectName, FileName: name, FileSize: 10, FileType: "text/csv"})
	a.record(ctx, attack, "commit", ans, err)
	var f fv1.File
	if err == nil && ans.OK() && ans.Decode(&f) == nil {
		a.api.Del(context.WithoutCancel(ctx), "/file/"+f.ID)
	}
}

// lyingBody is the 20 MB the attacker sends to a 10-byte grant.
var lyingBody = make([]byte, 20<<20)

// putPresigned PUTs body to a presigned URL (the embedded S3 on loopback).
func putPresigned(ctx context.Context, client *http.Client, uploadURL string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, localrun.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, uploadURL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "text/csv")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// sandboxEscapes: statements that reach the server's files (the issue's
// pass found the sandbox solid; it must stay so under load).
func (a *attacker) sandboxEscapes(ctx context.Context) {
	const attack = atSandbox
	for _, q := range []struct{ step, sql string }{
		{"COPY", "COPY (SELECT 42) TO '/tmp/loadlimits_escape.csv'"},
		{"ATTACH", "ATTACH '/tmp/loadlimits_escape.duckdb' AS escape"},
		{"read_csv", "SELECT * FROM read_csv('/etc/passwd')"},
	} {
		ans, err := a.query(ctx, q.sql)
		a.record(ctx, attack, q.step, ans, err)
	}
}

// ssrfKeyTests: a key test aimed at loopback or the cloud metadata address
// (item 10) must be refused before any request leaves.
func (a *attacker) ssrfKeyTests(ctx context.Context) {
	const attack = atSSRF
	for _, target := range []struct{ step, baseURL string }{
		{"127.0.0.1:1", "http://127.0.0.1:1/"},
		{"169.254.169.254", "http://169.254.169.254/"},
	} {
		ans, err := a.api.Form(ctx, "/credentials/test", url.Values{
			"provider_name": {"openai"}, "api_key": {"sk-loadlimits-0000000000000000"}, "base_url": {target.baseURL},
		})
		var r cv1.TestReply
		if err == nil && ans.OK() && ans.Decode(&r) == nil && r.IsValid {
			// A probe that reached something and called it valid is a breach,
			// not a refusal: counted apart so the report shows it.
			a.tally.add(attack, target.step+" "+strconv.Itoa(ans.Status)+" is_valid=true")
			continue
		}
		a.record(ctx, attack, target.step, ans, err)
	}
}

// sseFlood: open the cap plus three streams and keep the accepted ones
// open for the phase (item 5); every second try three more, which must be
// refused while the others stay open.
func (a *attacker) sseFlood(ctx context.Context) {
	const attack = atSSE
	var wg sync.WaitGroup
	defer wg.Wait()
	open := func() {
		status, body, err := openStream(ctx, a.api)
		if err != nil {
			a.record(ctx, attack, "GET /events", localrun.Answer{}, err)
			return
		}
		a.tally.add(attack, "GET /events "+strconv.Itoa(status))
		if body != nil {
			wg.Go(func() {
				defer body.Close()
				io.Copy(io.Discard, body)
			})
		}
	}
	for range a.sseCap + 3 {
		open()
	}
	for sleep(ctx, time.Second) == nil {
		for range 3 {
			open()
		}
	}
}

// openStream opens GET /events; on a 200 it returns the body, which stays
// open until ctx ends.
func openStream(ctx context.Context, c *localrun.Client) (int, io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+"/events", nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil, nil
	}
	return resp.StatusCode, resp.Body, nil
}

// setup makes what the attacks read back: three files with 500-column
// previews, converted to datasets, and two empty datasets of 4,000 columns
// with 100-byte names (each list together is more than one NATS message),
// and the small ready CSV the conversion bursts convert. Only the last is
// required; the others' outcomes are counted.
func (a *attacker) setup(ctx context.Context) error {
	for i := range 3 {
		id, err := a.uploadReady(ctx, fmt.Sprintf("wide_list_%d.csv", i), a.files.listWide)
		if err != nil {
			a.tally.add(atSetup, "500-column file: "+err.Error())
			continue
		}
		ans, err := a.api.Form(ctx, "/datasets/convert", url.Values{"file_id": {id}, "dataset_name": {fmt.Sprintf("wide_list_%d", i)}})
		a.record(ctx, atSetup, "convert 500-column file", ans, err)
	}
	for i := range 2 {
		cols := make([]dv1.Column, 4000)
		for c := range cols {
			name := fmt.Sprintf("c%d_", c)
			cols[c] = dv1.Column{ColumnName: name + strings.Repeat("x", 100-len(name)), ColumnType: "integer"}
		}
		ans, err := a.api.JSON(ctx, http.MethodPost, "/datasets/create", dv1.CreateRequest{DatasetName: fmt.Sprintf("wide_empty_%d", i), Schema: cols})
		a.record(ctx, atSetup, "create 4000-column dataset", ans, err)
	}
	id, err := a.uploadReady(ctx, "burst.csv", a.files.small)
	if err != nil {
		return fmt.Errorf("attacker's burst file: %w", err)
	}
	a.smallFile = id
	return nil
}

// uploadReady uploads a CSV and waits for it to be processed and ready.
func (a *attacker) uploadReady(ctx context.Context, name string, data []byte) (string, error) {
	ans, err := a.api.Upload(ctx, name, "text/csv", data)
	if err != nil {
		return "", err
	}
	var f fv1.File
	if ans.Status != http.StatusCreated || ans.Decode(&f) != nil {
		return "", fmt.Errorf("upload %s: %s", name, ans)
	}
	if status := a.waitProcessed(ctx, f.ID); status != fv1.StatusReady {
		return "", fmt.Errorf("upload %s: processing ended %q", name, status)
	}
	return f.ID, nil
}
