package credentialv1

import (
	"encoding/json"
	"time"

	"github.com/nonefinity/backend/contracts/paging"
)

// Credential is a stored provider key as the API shows it: never the key,
// at most its mask (APIKeyMasked, set by get only).
type Credential struct {
	ID                string            `json:"id"`
	Name              string            `json:"name"`
	ProviderName      string            `json:"provider_name"`
	BaseURL           string            `json:"base_url,omitempty"`
	AdditionalHeaders map[string]string `json:"additional_headers,omitempty"`
	IsActive          bool              `json:"is_active"`
	CreatedAt         time.Time         `json:"created_at,omitzero"`
	UpdatedAt         time.Time         `json:"updated_at,omitzero"`
	APIKeyMasked      string            `json:"api_key_masked,omitempty"`
	LastTestedAt      *time.Time        `json:"last_tested_at,omitempty"`
	LastTestOK        *bool             `json:"last_test_ok,omitempty"`
	LastUsedAt        *time.Time        `json:"last_used_at,omitempty"`
}

// CreateRequest stores a new credential. The key is trimmed and encrypted by
// the service; BaseURL overrides the provider's default when set.
type CreateRequest struct {
	Name              string            `json:"name"`
	ProviderName      string            `json:"provider_name"`
	APIKey            string            `json:"api_key"`
	BaseURL           *string           `json:"base_url,omitempty"`
	AdditionalHeaders map[string]string `json:"additional_headers,omitempty"`
}

// ListRequest pages through the caller's credentials.
type ListRequest struct {
	paging.Page
}

// ListReply is one page of credentials; Page is 1-based and Size the page
// size, as the original service reported them.
type ListReply struct {
	Credentials []Credential `json:"credentials"`
	Total       int          `json:"total"`
	Page        int          `json:"page"`
	Size        int          `json:"size"`
}

// MarshalJSON writes an empty list as [], never null.
func (r ListReply) MarshalJSON() ([]byte, error) {
	type plain ListReply
	p := plain(r)
	if p.Credentials == nil {
		p.Credentials = []Credential{}
	}
	return json.Marshal(p)
}

// GetRequest names one of the caller's credentials.
type GetRequest struct {
	ID string `json:"id"`
}

// UpdateRequest changes the fields that are set; a request with none of them
// is a bad request.
type UpdateRequest struct {
	ID                string             `json:"id"`
	Name              *string            `json:"name,omitempty"`
	APIKey            *string            `json:"api_key,omitempty"`
	BaseURL           *string            `json:"base_url,omitempty"`
	IsActive          *bool              `json:"is_active,omitempty"`
	AdditionalHeaders *map[string]string `json:"additional_headers,omitempty"`
}

// DeleteRequest names the credential to delete.
type DeleteRequest struct {
	ID string `json:"id"`
}

// DeleteReply names the deleted credential.
type DeleteReply struct {
	CredentialID string `json:"credential_id"`
}

// ListByProviderRequest lists the caller's credentials for one provider.
type ListByProviderRequest struct {
	ProviderName string `json:"provider_name"`
}

// ListByProviderReply is every credential of the caller for ProviderName.
type ListByProviderReply struct {
	Credentials  []Credential `json:"credentials"`
	Total        int          `json:"total"`
	ProviderName string       `json:"provider_name"`
}

// MarshalJSON writes an empty list as [], never null.
func (r ListByProviderReply) MarshalJSON() ([]byte, error) {
	type plain ListByProviderReply
	p := plain(r)
	if p.Credentials == nil {
		p.Credentials = []Credential{}
	}
	return json.Marshal(p)
}
