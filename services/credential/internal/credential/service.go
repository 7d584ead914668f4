package credential

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/nonefinity/backend/services/credential/internal/keyring"
)

// ProviderStore keeps the provider catalogue.
type ProviderStore interface {
	// UpsertProviders writes every provider by name and returns how many
	// it wrote.
	UpsertProviders(ctx context.Context, ps []Provider, now time.Time) (int, error)
	// ListProviders returns the providers by name.
	ListProviders(ctx context.Context, activeOnly bool) ([]Provider, error)
}

// CredentialStore keeps the users' credentials. Every method that takes an
// owner id only sees that owner's live (not deleted) credentials and
// returns ErrNotFound otherwise, also for a malformed id.
type CredentialStore interface {
	// NewID returns a fresh credential id; the id is known before the
	// insert because the ciphertext is bound to it.
	NewID() string
	// InsertCredential returns ErrDuplicateName for a live name clash.
	InsertCredential(ctx context.Context, c Credential, key KeyMaterial) error
	GetCredential(ctx context.Context, ownerID, id string) (Credential, error)
	// ListCredentials and ListCredentialsByProvider return the owner's
	// credentials newest first, without key material (Ciphertext and the
	// Key fields are empty): a list never shows it.
	ListCredentials(ctx context.Context, ownerID string, skip, limit int) ([]Credential, int64, error)
	ListCredentialsByProvider(ctx context.Context, ownerID, provider string) ([]Credential, error)
	// UpdateCredential returns the credential as updated.
	UpdateCredential(ctx context.Context, ownerID, id string, u Update) (Credential, error)
	// DeleteCredential marks the credential deleted and wipes its key.
	DeleteCredential(ctx context.Context, ownerID, id string, at time.Time) error
	RecordTest(ctx context.Context, ownerID, id string, ok bool, at time.Time) error
	RecordUse(ctx context.Context, ownerID, id string, at time.Time) error
	// DeleteOwner removes every credential of the owner, deleted ones too.
	DeleteOwner(ctx context.Context, ownerID string) (int64, error)
}

// KeyStore is what key checks and rotation need: records by the key they
// are encrypted under, and the canary.
type KeyStore interface {
	// ReplaceKey swaps a record's key material only while its ciphertext is
	// still old (compare and swap); false means the record changed or went.
	ReplaceKey(ctx context.Context, id, old string, key KeyMaterial) (bool, error)
	// CountNotOnKey counts records holding a key that is not under keyID
	// (deleted records of the Python service still hold one).
	CountNotOnKey(ctx context.Context, keyID string) (int64, error)
	// NotOnKeyAfter returns up to limit such records with ids after afterID
	// ("" for the start), in id order.
	NotOnKeyAfter(ctx context.Context, keyID, afterID string, limit int) ([]KeyRecord, error)
	// SampleKeyRecord returns any live record with a key.
	SampleKeyRecord(ctx context.Context) (KeyRecord, bool, error)
	LoadCanary(ctx context.Context) (string, bool, error)
	SaveCanary(ctx context.Context, ciphertext string, at time.Time) error
}

// RotationStore keeps the rotation progress and the lease that lets one
// instance at a time run it.
type RotationStore interface {
	LoadRotation(ctx context.Context) (RotationProgress, bool, error)
	// ClaimRotation takes the lease for holder when nobody holds it, it has
	// expired at now, or holder holds it already, and returns the stored
	// progress. false means another holder has it.
	ClaimRotation(ctx context.Context, holder string, now, until time.Time) (RotationProgress, bool, error)
	// SaveRotation stores progress while holder holds the lease, extending
	// it to until (a zero until releases it); ErrRotationLeaseLost otherwise.
	SaveRotation(ctx context.Context, holder string, p RotationProgress, until time.Time) error
}

// Store is everything the service keeps.
type Store interface {
	ProviderStore
	CredentialStore
	KeyStore
	RotationStore
}

// Cipher encrypts keys bound to their record (keyring.Keyring).
type Cipher interface {
	Encrypt(plaintext string, b keyring.Binding) (string, error)
	Decrypt(stored string, b keyring.Binding) (string, error)
	IsCurrent(stored string) bool
	KeyID() string
	Fingerprint(plaintext string) string
	SelfTest() error
	Algorithm() string
	Iterations() int
}

// Prober runs a provider's validation probe.
type Prober interface {
	Probe(ctx context.Context, t ProbeTarget) TestResult
}

// Catalog reads the providers file.
type Catalog interface {
	Load() ([]Provider, error)
}

// Options build a Service.
type Options struct {
	Store   Store
	Cipher  Cipher
	Prober  Prober
	Catalog Catalog
	// Broadcast, when set, tells the other instances about a refresh of
	// the catalogue and about changed credentials.
	Broadcast Broadcaster
	// Lists keeps the owners' lists; default a cache of the service's own.
	// Feed, when set, forgets in it the other instances' changes, and
	// catches up with them before a list is served from memory.
	Lists *ListCache
	Feed  ChangeFeed
	Log   *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// RotationBatchSize is the default batch of a rotation; default 100.
	RotationBatchSize int
	// RotationLease is how long a rotation lease lasts without a batch
	// renewing it; default 30s.
	RotationLease time.Duration
	// OnRotationProgress, when set, is called after every stored rotation
	// step (each batch and the end).
	OnRotationProgress func(RotationProgress)
}

// Service is the credential service's core.
type Service struct {
	store   Store
	cipher  Cipher
	prober  Prober
	catalog Catalog
	log     *slog.Logger
	now     func() time.Time

	broadcast Broadcaster
	catalogue providerCache
	feed      ChangeFeed
	lists     *ListCache

	batchSize  int
	lease      time.Duration
	onProgress func(RotationProgress)
	// holder names this instance in the rotation lease.
	holder string

	jobs     context.Context
	stopJobs context.CancelFunc
	jobsWG   sync.WaitGroup
	mu       sync.Mutex
	rotating bool
}

// NewService builds the core. Close stops its background work.
func NewService(o Options) *Service {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Lists == nil {
		o.Lists = &ListCache{}
	}
	if o.RotationBatchSize <= 0 {
		o.RotationBatchSize = 100
	}
	if o.RotationLease <= 0 {
		o.RotationLease = 30 * time.Second
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	jobs, stop := context.WithCancel(context.Background())
	s := &Service{
		store: o.Store, cipher: o.Cipher, prober: o.Prober, catalog: o.Catalog, log: o.Log, now: o.Now, broadcast: o.Broadcast,
		batchSize: o.RotationBatchSize, lease: o.RotationLease, onProgress: o.OnRotationProgress,
		holder: hex.EncodeToString(id[:]), jobs: jobs, stopJobs: stop, feed: o.Feed, lists: o.Lists,
	}
	s.store = listingStore{Store: o.Store, s: s}
	return s
}

// Close stops background work (a running rotation stops after its batch and
// resumes on the next start) and waits for it.
func (s *Service) Close() {
	s.stopJobs()
	s.jobsWG.Wait()
}

// clock is the current time at MongoDB's precision, so what a write returns
// equals what a later read returns.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

func binding(c Credential) keyring.Binding {
	return keyring.Binding{CredentialID: c.ID, OwnerID: c.OwnerID}
}

// seal encrypts a key for a record and computes what is stored with it.
func (s *Service) seal(plaintext, id, ownerID string) (KeyMaterial, error) {
	ct, err := s.cipher.Encrypt(plaintext, keyring.Binding{CredentialID: id, OwnerID: ownerID})
	if err != nil {
		return KeyMaterial{}, fmt.Errorf("encrypt key: %w", err)
	}
	return KeyMaterial{
		Ciphertext:  ct,
		KeyID:       s.cipher.KeyID(),
		Last4:       last4(plaintext),
		Masked:      Mask(plaintext),
		Fingerprint: s.cipher.Fingerprint(plaintext),
	}, nil
}

// open decrypts a record's key.
func (s *Service) open(c Credential) (string, error) {
	plain, err := s.cipher.Decrypt(c.Ciphertext, binding(c))
	if err != nil {
		return "", fmt.Errorf("credential %s: %w", c.ID, errors.Join(ErrUndecryptable, err))
	}
	return plain, nil
}

// activeProvider returns an active provider, or a validation error naming
// provider_name.
func (s *Service) activeProvider(ctx context.Context, name string) (Provider, error) {
	if name == "" {
		return Provider{}, invalid("provider_name", "must not be empty")
	}
	p, err := s.provider(ctx, name)
	if errors.Is(err, ErrProviderNotFound) {
		return Provider{}, invalid("provider_name", "unknown provider %q", name)
	}
	if err != nil {
		return Provider{}, err
	}
	if !p.IsActive {
		return Provider{}, invalid("provider_name", "provider %q is not active", name)
	}
	return p, nil
}

// requestHeaders builds the headers of a call to the provider: its static
// headers, then the credential's extra headers, then the key header.
func requestHeaders(p Provider, extra map[string]string, key string) map[string]string {
	h := make(map[string]string, len(p.Headers)+len(extra)+1)
	maps.Copy(h, p.Headers)
	maps.Copy(h, extra)
	if p.APIKeyHeader != "" && key != "" {
		h[p.APIKeyHeader] = p.APIKeyPrefix + key
	}
	return h
}

func baseURLOf(c Credential, p Provider) string {
	if c.BaseURL != "" {
		return c.BaseURL
	}
	return p.BaseURL
}
