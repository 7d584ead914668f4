// Package credential is the core of the credential service: AI providers,
// the users' provider API keys (stored encrypted), testing a key against its
// provider, handing a key to an internal caller, and re-encrypting every key
// when the secret changes.
//
// It declares what it needs from the outside (Store, Cipher, Prober,
// Catalog) and knows nothing of NATS or MongoDB.
package credential

import "time"

// Provider is an AI provider a credential can be for.
type Provider struct {
	ID string
	// Name is the stable key (provider_name), e.g. "openai".
	Name string
	// DisplayName is the human name, e.g. "OpenAI".
	DisplayName  string
	BaseURL      string
	APIKeyHeader string
	APIKeyPrefix string
	// RequiresKey is false for local providers such as Ollama.
	RequiresKey bool
	// Headers are sent with every call (e.g. anthropic-version).
	Headers   map[string]string
	IsActive  bool
	Probe     Probe
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Probe is how a key is tested: one request whose expected status means the
// key works.
type Probe struct {
	Method string
	// Path is appended to the base URL, e.g. "/models".
	Path string
	// ExpectStatus lists the statuses that mean "the key works"; empty
	// means 200.
	ExpectStatus []int
	// ModelsField says where the model ids are in the JSON reply:
	// "data[].id", "models[].name", "[].id"; empty when the reply lists none.
	ModelsField string
}

// Credential is a stored key of one user, without the plaintext key.
type Credential struct {
	ID                string
	OwnerID           string
	Name              string
	ProviderName      string
	BaseURL           string
	AdditionalHeaders map[string]string
	IsActive          bool
	CreatedAt         time.Time
	UpdatedAt         time.Time
	// Ciphertext is the stored (encrypted) key.
	Ciphertext string
	// KeyMasked is the key's mask computed when it was written; empty for
	// values the Python service wrote, which are masked after decryption.
	KeyMasked      string
	KeyLast4       string
	KeyFingerprint string
	LastTestedAt   *time.Time
	LastTestOK     *bool
	LastUsedAt     *time.Time
}

// KeyMaterial is everything stored about a key when it is (re)written.
type KeyMaterial struct {
	Ciphertext  string
	KeyID       string
	Last4       string
	Masked      string
	Fingerprint string
}

// NewCredential is a credential to create, as the caller sent it.
type NewCredential struct {
	Name              string
	ProviderName      string
	APIKey            string
	BaseURL           string
	AdditionalHeaders map[string]string
}

// Changes are the fields of an update the caller set.
type Changes struct {
	Name              *string
	APIKey            *string
	BaseURL           *string
	IsActive          *bool
	AdditionalHeaders *map[string]string
}

func (c Changes) empty() bool {
	return c.Name == nil && c.APIKey == nil && c.BaseURL == nil && c.IsActive == nil && c.AdditionalHeaders == nil
}

// Update is what the store writes for an update; nil fields stay as they are.
type Update struct {
	Name              *string
	Key               *KeyMaterial
	BaseURL           *string
	IsActive          *bool
	AdditionalHeaders *map[string]string
	UpdatedAt         time.Time
}

// TestInput names the key to test: a stored credential, or a provider with a
// key (and optionally a base URL) given in the request.
type TestInput struct {
	CredentialID string
	ProviderName string
	APIKey       string
	BaseURL      string
}

// ProbeTarget is one probe request, fully resolved.
type ProbeTarget struct {
	BaseURL string
	Probe   Probe
	// Headers are the complete request headers, the key header included.
	Headers map[string]string
}

// TestResult is the outcome of a probe. A refused key is IsValid false, not
// an error.
type TestResult struct {
	IsValid      bool
	Message      string
	ResponseTime time.Duration
	ErrorDetails string
	Models       []string
}

// Resolved is what an internal caller needs to call the provider.
type Resolved struct {
	ProviderName string
	APIKey       string
	APIKeyHeader string
	APIKeyPrefix string
	BaseURL      string
	Headers      map[string]string
}

// Rotation states, the same words as the contract's.
const (
	RotationIdle    = "idle"
	RotationRunning = "running"
	RotationDone    = "done"
	RotationFailed  = "failed"
)

// RotationProgress is where re-encrypting every record to the current key
// stands. It is stored, so a rotation resumes after LastID when the process
// that ran it stopped.
type RotationProgress struct {
	State       string
	TargetKeyID string
	Total       int64
	Processed   int64
	Failed      int64
	StartedAt   *time.Time
	FinishedAt  *time.Time
	LastError   string
	// LastID is the last record handled; the next batch starts after it.
	LastID    string
	BatchSize int
}

// KeyRecord is a stored key as rotation sees it.
type KeyRecord struct {
	ID         string
	OwnerID    string
	Ciphertext string
}

// EncryptionHealth reports the encryption setup and how far rotation got.
type EncryptionHealth struct {
	Healthy          bool
	TestPassed       bool
	Algorithm        string
	Iterations       int
	KeyID            string
	RecordsOnOldKeys *int64            // nil unless asked instance-wide
	Rotation         *RotationProgress // nil unless asked instance-wide, or never started
	Error            string
	Timestamp        time.Time
}
