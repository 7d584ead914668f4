package credential

import (
	"context"
	"errors"
	"strings"
)

// TestKey runs the provider's validation probe with a stored credential's
// key or with a key given in the request. For a stored credential the
// outcome is recorded (last_tested_at, last_test_ok).
func (s *Service) TestKey(ctx context.Context, ownerID string, in TestInput) (TestResult, error) {
	if err := requireOwner(ownerID); err != nil {
		return TestResult{}, err
	}
	if strings.TrimSpace(in.CredentialID) != "" {
		return s.testStored(ctx, ownerID, strings.TrimSpace(in.CredentialID))
	}
	if strings.TrimSpace(in.ProviderName) == "" {
		return TestResult{}, invalid("credential_id", "give credential_id, or provider_name and api_key")
	}
	p, err := s.activeProvider(ctx, strings.TrimSpace(in.ProviderName))
	if err != nil {
		return TestResult{}, err
	}
	key, err := normalizeKey(in.APIKey, p.RequiresKey)
	if err != nil {
		return TestResult{}, err
	}
	baseURL, err := normalizeBaseURL(in.BaseURL)
	if err != nil {
		return TestResult{}, err
	}
	if baseURL == "" {
		baseURL = p.BaseURL
	}
	return s.prober.Probe(ctx, ProbeTarget{BaseURL: baseURL, Probe: p.Probe, Headers: requestHeaders(p, nil, key)}), nil
}

func (s *Service) testStored(ctx context.Context, ownerID, id string) (TestResult, error) {
	c, err := s.store.GetCredential(ctx, ownerID, id)
	if err != nil {
		return TestResult{}, err
	}
	p, err := s.provider(ctx, c.ProviderName)
	if errors.Is(err, ErrProviderNotFound) {
		return TestResult{IsValid: false, Message: "Provider not found", ErrorDetails: "the credential's provider is no longer configured"}, nil
	}
	if err != nil {
		return TestResult{}, err
	}
	key, err := s.open(c)
	if err != nil {
		return TestResult{}, err
	}
	res := s.prober.Probe(ctx, ProbeTarget{BaseURL: baseURLOf(c, p), Probe: p.Probe, Headers: requestHeaders(p, c.AdditionalHeaders, key)})
	if err := s.store.RecordTest(ctx, ownerID, id, res.IsValid, s.clock()); err != nil {
		// The caller still gets the outcome; only the bookkeeping failed.
		s.log.WarnContext(ctx, "record key test outcome", "credential_id", id, "error", err)
	}
	return res, nil
}
