package credentialv1

// TestRequest asks whether a key works: either a stored credential
// (CredentialID) or an ad-hoc key for a provider (ProviderName, APIKey and
// optionally BaseURL).
type TestRequest struct {
	CredentialID string `json:"credential_id,omitempty"`
	ProviderName string `json:"provider_name,omitempty"`
	APIKey       string `json:"api_key,omitempty"`
	BaseURL      string `json:"base_url,omitempty"`
}

// TestReply is the outcome of the provider's validation probe. A key the
// provider refuses is IsValid false, not an error.
type TestReply struct {
	IsValid        bool     `json:"is_valid"`
	Message        string   `json:"message"`
	ResponseTimeMS int64    `json:"response_time_ms"`
	ErrorDetails   string   `json:"error_details,omitempty"`
	Models         []string `json:"models,omitempty"`
}
