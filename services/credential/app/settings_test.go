package app

import (
	"strings"
	"testing"

	"github.com/nonefinity/backend/pkg/config"
)

// Each problem of the service's own variables names the variable and what
// it accepts; zero is outside every range that starts at 1.
func TestSettingsValidate(t *testing.T) {
	for _, tc := range []struct {
		variable, value, problem string
	}{
		{"CREDENTIAL_KDF_ITERATIONS", "0", "must be at least 1"},
		{"CREDENTIAL_KDF_ITERATIONS", "-5", "must be at least 1"},
		{"CREDENTIAL_ROTATE_BATCH_SIZE", "0", "must be between 1 and 10000"},
		{"CREDENTIAL_ROTATE_BATCH_SIZE", "-1", "must be between 1 and 10000"},
		{"CREDENTIAL_ROTATE_BATCH_SIZE", "10001", "must be between 1 and 10000"},
		{"CREDENTIAL_TEST_TIMEOUT", "0", "must be greater than zero and at most 2m"},
		{"CREDENTIAL_TEST_TIMEOUT", "121s", "must be greater than zero and at most 2m"},
		{"CREDENTIAL_ALLOWED_HOSTS", "http://x/", "each entry must be a host name, IP address or CIDR prefix"},
	} {
		t.Run(tc.variable+"="+tc.value, func(t *testing.T) {
			_, err := config.LoadFrom[Settings](map[string]string{tc.variable: tc.value})
			if err == nil || !strings.Contains(err.Error(), tc.variable+": "+tc.problem) {
				t.Errorf("err = %v, want %s: %s", err, tc.variable, tc.problem)
			}
		})
	}
	d := DefaultSettings()
	if err := d.Validate(); err != nil {
		t.Errorf("the defaults are refused: %v", err)
	}
	if d.Encryption.KDFIterations != 100000 || d.RotateBatchSize != 100 || d.TestTimeout.String() != "10s" {
		t.Errorf("defaults = %+v", d)
	}
	if _, err := config.LoadFrom[Settings](map[string]string{"CREDENTIAL_ROTATE_BATCH_SIZE": "10000", "CREDENTIAL_TEST_TIMEOUT": "2m"}); err != nil {
		t.Errorf("the upper bounds are refused: %v", err)
	}
}
