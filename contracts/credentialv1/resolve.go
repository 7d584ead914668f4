package credentialv1

// ResolveRequest names a credential of the calling user whose key an internal
// caller (the agent runtime) needs in clear.
type ResolveRequest struct {
	CredentialID string `json:"credential_id"`
}

// ResolveReply is everything needed to call the provider with the
// credential: the decrypted key, how to present it (header and prefix), the
// base URL (the credential's own or the provider's) and the extra headers.
type ResolveReply struct {
	ProviderName string            `json:"provider_name"`
	APIKey       string            `json:"api_key"`
	APIKeyHeader string            `json:"api_key_header"`
	APIKeyPrefix string            `json:"api_key_prefix"`
	BaseURL      string            `json:"base_url"`
	Headers      map[string]string `json:"headers,omitempty"`
}
