package credential_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nonefinity/backend/services/credential/internal/credential"
	"github.com/nonefinity/backend/services/credential/internal/keyring"
)

// The fakes below stand in for MongoDB and the keyring in the core's tests:
// they keep the contracts the ports document (owner scoping, the compare and
// swap of a key, the rotation lease) and nothing else.

// fakeCipher "encrypts" as keyID|credential|owner|plaintext: a record is
// bound to its id and owner, and readable under any key the cipher knows.
type fakeCipher struct {
	current string
	known   []string
}

func (c *fakeCipher) Encrypt(plaintext string, b keyring.Binding) (string, error) {
	return strings.Join([]string{c.current, b.CredentialID, b.OwnerID, plaintext}, "|"), nil
}

func (c *fakeCipher) Decrypt(stored string, b keyring.Binding) (string, error) {
	parts := strings.SplitN(stored, "|", 4)
	switch {
	case len(parts) != 4 || !slices.Contains(c.known, parts[0]):
		return "", errors.New("no configured key opens it")
	case parts[1] != b.CredentialID || parts[2] != b.OwnerID:
		return "", errors.New("bound to another record")
	}
	return parts[3], nil
}

func (c *fakeCipher) IsCurrent(stored string) bool { return strings.HasPrefix(stored, c.current+"|") }
func (c *fakeCipher) KeyID() string                { return c.current }
func (c *fakeCipher) Fingerprint(p string) string  { return "fp-" + p }
func (c *fakeCipher) SelfTest() error              { return nil }
func (c *fakeCipher) Algorithm() string            { return "fake" }
func (c *fakeCipher) Iterations() int              { return 1 }

// storedCredential is one credential document: the record, whether it is
// deleted and the key it is encrypted under.
type storedCredential struct {
	credential.Credential
	deleted bool
	keyID   string
}

// memStore is credential.Store in memory.
type memStore struct {
	mu        sync.Mutex
	providers map[string]credential.Provider
	// failProviders, when set, is what reading the providers returns.
	failProviders error
	creds         map[string]*storedCredential
	lastID        int
	canary        string
	rotation      *credential.RotationProgress
	holder        string
	leaseEnd      time.Time
}

func newMemStore(providers ...credential.Provider) *memStore {
	s := &memStore{providers: map[string]credential.Provider{}, creds: map[string]*storedCredential{}}
	for _, p := range providers {
		s.providers[p.Name] = p
	}
	return s
}

func (s *memStore) UpsertProviders(_ context.Context, ps []credential.Provider, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range ps {
		p.UpdatedAt = now
		s.providers[p.Name] = p
	}
	return len(ps), nil
}

func (s *memStore) ListProviders(_ context.Context, activeOnly bool) ([]credential.Provider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failProviders != nil {
		return nil, s.failProviders
	}
	var out []credential.Provider
	for _, name := range slices.Sorted(maps.Keys(s.providers)) {
		if p := s.providers[name]; p.IsActive || !activeOnly {
			out = append(out, p)
		}
	}
	return out, nil
}

func (s *memStore) NewID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastID++
	return fmt.Sprintf("%024x", s.lastID)
}

// live returns the owner's live credential id, or ErrNotFound.
func (s *memStore) live(ownerID, id string) (*storedCredential, error) {
	c, ok := s.creds[id]
	if !ok || c.deleted || c.OwnerID != ownerID {
		return nil, credential.ErrNotFound
	}
	return c, nil
}

func (s *memStore) nameTaken(ownerID, name, except string) bool {
	for id, c := range s.creds {
		if id != except && !c.deleted && c.OwnerID == ownerID && c.Name == name {
			return true
		}
	}
	return false
}

func setKey(c *storedCredential, km credential.KeyMaterial) {
	c.Ciphertext, c.KeyMasked, c.KeyLast4, c.KeyFingerprint, c.keyID = km.Ciphertext, km.Masked, km.Last4, km.Fingerprint, km.KeyID
}

func (s *memStore) InsertCredential(_ context.Context, c credential.Credential, km credential.KeyMaterial) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nameTaken(c.OwnerID, c.Name, "") {
		return credential.ErrDuplicateName
	}
	sc := &storedCredential{Credential: c}
	setKey(sc, km)
	s.creds[c.ID] = sc
	return nil
}

func (s *memStore) GetCredential(_ context.Context, ownerID, id string) (credential.Credential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.live(ownerID, id)
	if err != nil {
		return credential.Credential{}, err
	}
	return c.Credential, nil
}

// owned lists the owner's live credentials, newest first.
func (s *memStore) owned(ownerID string, keep func(credential.Credential) bool) []credential.Credential {
	var out []credential.Credential
	for _, c := range s.creds {
		if !c.deleted && c.OwnerID == ownerID && keep(c.Credential) {
			out = append(out, c.Credential)
		}
	}
	slices.SortFunc(out, func(a, b credential.Credential) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
	return out
}

func (s *memStore) ListCredentials(_ context.Context, ownerID string, skip, limit int) ([]credential.Credential, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := s.owned(ownerID, func(credential.Credential) bool { return true })
	page := all[min(skip, len(all)):]
	return page[:min(limit, len(page))], int64(len(all)), nil
}

func (s *memStore) ListCredentialsByProvider(_ context.Context, ownerID, provider string) ([]credential.Credential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owned(ownerID, func(c credential.Credential) bool { return c.ProviderName == provider }), nil
}

func (s *memStore) UpdateCredential(_ context.Context, ownerID, id string, u credential.Update) (credential.Credential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.live(ownerID, id)
	if err != nil {
		return credential.Credential{}, err
	}
	if u.Name != nil && s.nameTaken(ownerID, *u.Name, id) {
		return credential.Credential{}, credential.ErrDuplicateName
	}
	if u.Name != nil {
		c.Name = *u.Name
	}
	if u.Key != nil {
		setKey(c, *u.Key)
	}
	if u.BaseURL != nil {
		c.BaseURL = *u.BaseURL
	}
	if u.IsActive != nil {
		c.IsActive = *u.IsActive
	}
	if u.AdditionalHeaders != nil {
		c.AdditionalHeaders = *u.AdditionalHeaders
	}
	c.UpdatedAt = u.UpdatedAt
	return c.Credential, nil
}

func (s *memStore) DeleteCredential(_ context.Context, ownerID, id string, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.live(ownerID, id)
	if err != nil {
		return err
	}
	c.deleted = true
	setKey(c, credential.KeyMaterial{})
	return nil
}

func (s *memStore) RecordTest(_ context.Context, ownerID, id string, ok bool, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.live(ownerID, id)
	if err != nil {
		return err
	}
	c.LastTestOK, c.LastTestedAt = &ok, &at
	return nil
}

func (s *memStore) RecordUse(_ context.Context, ownerID, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.live(ownerID, id)
	if err != nil {
		return err
	}
	c.LastUsedAt = &at
	return nil
}

func (s *memStore) DeleteOwner(_ context.Context, ownerID string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for id, c := range s.creds {
		if c.OwnerID == ownerID {
			delete(s.creds, id)
			n++
		}
	}
	return n, nil
}

func (s *memStore) ReplaceKey(_ context.Context, id, old string, km credential.KeyMaterial) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.creds[id]
	if !ok || c.Ciphertext != old {
		return false, nil
	}
	setKey(c, km)
	return true, nil
}

// notOnKey lists the records with a key that is not under keyID, by id.
func (s *memStore) notOnKey(keyID string) []credential.KeyRecord {
	var out []credential.KeyRecord
	for _, id := range slices.Sorted(maps.Keys(s.creds)) {
		if c := s.creds[id]; c.Ciphertext != "" && c.keyID != keyID {
			out = append(out, credential.KeyRecord{ID: id, OwnerID: c.OwnerID, Ciphertext: c.Ciphertext})
		}
	}
	return out
}

func (s *memStore) CountNotOnKey(_ context.Context, keyID string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.notOnKey(keyID))), nil
}

func (s *memStore) NotOnKeyAfter(_ context.Context, keyID, afterID string, limit int) ([]credential.KeyRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs := slices.DeleteFunc(s.notOnKey(keyID), func(r credential.KeyRecord) bool { return r.ID <= afterID })
	return recs[:min(limit, len(recs))], nil
}

func (s *memStore) SampleKeyRecord(_ context.Context) (credential.KeyRecord, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range slices.Sorted(maps.Keys(s.creds)) {
		if c := s.creds[id]; !c.deleted && c.Ciphertext != "" {
			return credential.KeyRecord{ID: id, OwnerID: c.OwnerID, Ciphertext: c.Ciphertext}, true, nil
		}
	}
	return credential.KeyRecord{}, false, nil
}

func (s *memStore) LoadCanary(_ context.Context) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.canary, s.canary != "", nil
}

func (s *memStore) SaveCanary(_ context.Context, ciphertext string, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.canary = ciphertext
	return nil
}

func (s *memStore) LoadRotation(_ context.Context) (credential.RotationProgress, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rotation == nil {
		return credential.RotationProgress{}, false, nil
	}
	return *s.rotation, true, nil
}

// ClaimRotation grants the lease to its holder, or to anyone once it has
// run out, as the MongoDB store's conditional update does.
func (s *memStore) ClaimRotation(_ context.Context, holder string, now, until time.Time) (credential.RotationProgress, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rotation == nil {
		s.rotation = &credential.RotationProgress{State: credential.RotationIdle}
	} else if s.holder != holder && s.leaseEnd.After(now) {
		return *s.rotation, false, nil
	}
	s.holder, s.leaseEnd = holder, until
	return *s.rotation, true, nil
}

func (s *memStore) SaveRotation(_ context.Context, holder string, p credential.RotationProgress, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rotation == nil || s.holder != holder {
		return credential.ErrRotationLeaseLost
	}
	*s.rotation, s.leaseEnd = p, until
	return nil
}

// takeLease hands the lease to another instance until until.
func (s *memStore) takeLease(holder string, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rotation == nil {
		s.rotation = &credential.RotationProgress{State: credential.RotationIdle}
	}
	s.holder, s.leaseEnd = holder, until
}

// lease says who holds the lease and until when.
func (s *memStore) lease() (string, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.holder, s.leaseEnd
}

// stored returns a credential document as it is, deleted or not.
func (s *memStore) stored(id string) storedCredential {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.creds[id]
}
