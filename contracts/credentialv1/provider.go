package credentialv1

import (
	"encoding/json"
	"time"
)

// Provider is an AI provider a credential can be for, as loaded from the
// providers YAML. The validation probe stays inside the service.
type Provider struct {
	ID           string    `json:"id"`
	ProviderName string    `json:"provider_name"`
	Name         string    `json:"name"`
	BaseURL      string    `json:"base_url"`
	APIKeyHeader string    `json:"api_key_header"`
	APIKeyPrefix string    `json:"api_key_prefix"`
	IsActive     bool      `json:"is_active"`
	CreatedAt    time.Time `json:"created_at,omitzero"`
	UpdatedAt    time.Time `json:"updated_at,omitzero"`
}

// ProvidersListRequest filters the providers; the gateway sets ActiveOnly
// to true unless the query says active_only=false.
type ProvidersListRequest struct {
	ActiveOnly bool `json:"active_only"`
}

// ProvidersListReply is the list of providers.
type ProvidersListReply struct {
	Providers []Provider `json:"providers"`
	Total     int        `json:"total"`
}

// MarshalJSON writes an empty list as [], never null.
func (r ProvidersListReply) MarshalJSON() ([]byte, error) {
	type plain ProvidersListReply
	p := plain(r)
	if p.Providers == nil {
		p.Providers = []Provider{}
	}
	return json.Marshal(p)
}

// ProvidersRefreshReply says how many providers the reload upserted.
type ProvidersRefreshReply struct {
	ProcessedCount int `json:"processed_count"`
}
