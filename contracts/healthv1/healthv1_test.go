package healthv1_test

import (
	"flag"
	"testing"

	"github.com/nonefinity/backend/contracts/healthv1"
	"github.com/nonefinity/backend/contracts/internal/golden"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current types")

func TestWireFormat(t *testing.T) {
	golden.CheckAll(t, []golden.Case{
		{Name: "reply", Value: healthv1.Reply{Service: "credential", Version: "1.0.0", Status: healthv1.StatusOK}},
		{Name: "reply_degraded", Value: healthv1.Reply{
			Service: "fileingest", Version: "1.0.0", Status: healthv1.StatusDegraded,
			Checks: map[string]string{"mongo": "ok", "s3": "unavailable"},
		}},
	}, *update)
}

func TestSubject(t *testing.T) {
	if got := healthv1.Subject("file"); got != "svc.file.v1.health" {
		t.Errorf("Subject = %q", got)
	}
}
