package httpapi_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// /docs in a real browser (Debian's chromium, headless, no network but
// loopback): the page renders every operation of the document from the
// embedded assets under its strict CSP, and sends an authorized request.
func TestDocsPageInChromium(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is needed for this test (apt-get install chromium): %v", err)
	}
	h := newHarness(t, allServices)
	srv := httptest.NewServer(h.handler)
	t.Cleanup(srv.Close)
	operations := len(openAPIOperations(t, h))

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	defer cancelCtx()
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	// Console errors include CSP violations and failed asset loads.
	var mu sync.Mutex
	var consoleErrors []string
	err = chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			consoleErrors = append(consoleErrors, e.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError {
				consoleErrors = append(consoleErrors, e.Entry.Text+" "+e.Entry.URL)
			}
		}
	})
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enable log events: %v", err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/docs"),
		chromedp.WaitVisible(chromedp.CSS(`.opblock`)),
	); err != nil {
		t.Fatalf("render /docs: %v", err)
	}
	title, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`.info .title`)))
	if err != nil || !strings.Contains(title, "Nonefinity API") {
		t.Errorf("page title %q (%v)", title, err)
	}
	rendered, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('.opblock').length`))
	if err != nil || rendered != operations {
		t.Errorf("page lists %d operations, the document has %d (%v)", rendered, operations, err)
	}

	// Authorize with a token, then try GET /api/v1/auth/me from the page.
	const op = `#operations-auth-me`
	if err := chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`window.ui.preauthorizeApiKey("bearer", %q)`, userToken)),
		chromedp.Click(chromedp.CSS(op+` .opblock-summary`)),
		chromedp.Click(chromedp.CSS(op+` .try-out__btn`)),
		chromedp.Click(chromedp.CSS(op+` .execute`)),
		chromedp.WaitVisible(chromedp.CSS(op+` .live-responses-table tbody .response-col_status`)),
	); err != nil {
		t.Fatalf("try GET /auth/me: %v", err)
	}
	status, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(op+` .live-responses-table tbody .response-col_status`)))
	if err != nil {
		t.Fatal(err)
	}
	body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(op+` .live-responses-table tbody .response-col_description`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(status, "200") || !strings.Contains(body, userAID) {
		t.Errorf("authorized request from the page: status %q, body %q", status, body)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, e := range consoleErrors {
		t.Errorf("browser console error: %s", e)
	}
}
