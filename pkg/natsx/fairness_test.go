package natsx

import (
	"errors"
	"testing"
)

// A message the per-key limit lets through but Admit refuses is deferred,
// not run and not failed; one Admit accepts runs and gives its unit back.
func TestFairnessAdmitDefersWhatThePoolRefuses(t *testing.T) {
	released, admitOK := 0, false
	run := Fairness{PerKey: 2, Admit: func(string) (func(), bool) {
		if !admitOK {
			return nil, false
		}
		return func() { released++ }, true
	}}.Runner()

	ran := false
	err := run("u1", func() error { ran = true; return nil })
	if !isDeferred(err) || ran {
		t.Fatalf("refused by Admit: err = %v, ran = %v; want a deferral and no run", err, ran)
	}

	admitOK = true
	boom := errors.New("boom")
	if err := run("u1", func() error { ran = true; return boom }); !errors.Is(err, boom) || !ran {
		t.Fatalf("admitted: err = %v, ran = %v; want the handler's error after it ran", err, ran)
	}
	if released != 1 {
		t.Fatalf("the admitted unit was released %d times, want 1", released)
	}
}
