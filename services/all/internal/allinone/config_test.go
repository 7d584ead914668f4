package allinone

import (
	"strings"
	"testing"

	"github.com/nonefinity/backend/pkg/config"
)

// make run is dev by default: a Clerk secret key in its environment stops it
// before anything starts, unless create-token through Clerk is opted into.
func TestConfigRefusesDevAuthWithClerkSecret(t *testing.T) {
	const secret = "sk_test_must_not_show_0123456789"
	_, err := config.LoadFrom[Config](map[string]string{"CLERK_SECRET_KEY": secret})
	if err == nil || !strings.Contains(err.Error(), "CLERK_SECRET_KEY: must not be set with dev auth") || strings.Contains(err.Error(), secret) {
		t.Fatalf("err = %v", err)
	}
	cfg, err := config.LoadFrom[Config](map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if h := cfg.App.ListenHost(); h != "127.0.0.1" {
		t.Fatalf("make run listens on %s by default", h)
	}
}
