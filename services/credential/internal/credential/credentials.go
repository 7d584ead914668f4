package credential

import (
	"context"
	"errors"
	"fmt"
)

func requireOwner(ownerID string) error {
	if ownerID == "" {
		return ErrNoUser
	}
	return nil
}

// Create validates and stores a new credential with its key encrypted.
func (s *Service) Create(ctx context.Context, ownerID string, in NewCredential) (Credential, error) {
	if err := requireOwner(ownerID); err != nil {
		return Credential{}, err
	}
	name, err := normalizeName(in.Name)
	if err != nil {
		return Credential{}, err
	}
	p, err := s.activeProvider(ctx, in.ProviderName)
	if err != nil {
		return Credential{}, err
	}
	key, err := normalizeKey(in.APIKey, p.RequiresKey)
	if err != nil {
		return Credential{}, err
	}
	baseURL, err := normalizeBaseURL(in.BaseURL)
	if err != nil {
		return Credential{}, err
	}
	if err := validateHeaders(in.AdditionalHeaders, p.APIKeyHeader); err != nil {
		return Credential{}, err
	}
	now := s.clock()
	c := Credential{
		ID: s.store.NewID(), OwnerID: ownerID, Name: name, ProviderName: p.Name,
		BaseURL: baseURL, AdditionalHeaders: in.AdditionalHeaders, IsActive: true,
		CreatedAt: now, UpdatedAt: now,
	}
	km, err := s.seal(key, c.ID, ownerID)
	if err != nil {
		return Credential{}, err
	}
	if err := s.store.InsertCredential(ctx, c, km); err != nil {
		return Credential{}, err
	}
	c.Ciphertext, c.KeyMasked, c.KeyLast4, c.KeyFingerprint = km.Ciphertext, km.Masked, km.Last4, km.Fingerprint
	return c, nil
}

// List pages through the owner's credentials, newest first.
func (s *Service) List(ctx context.Context, ownerID string, skip, limit int) ([]Credential, int64, error) {
	if err := requireOwner(ownerID); err != nil {
		return nil, 0, err
	}
	list, kept, err := s.ownerList(ctx, ownerID)
	if err != nil || !kept {
		if err == nil {
			return s.store.ListCredentials(ctx, ownerID, skip, limit)
		}
		return nil, 0, err
	}
	return page(list, skip, limit), int64(len(list)), nil
}

// ListByProvider lists every credential of the owner for one provider.
func (s *Service) ListByProvider(ctx context.Context, ownerID, provider string) ([]Credential, error) {
	if err := requireOwner(ownerID); err != nil {
		return nil, err
	}
	list, kept, err := s.ownerList(ctx, ownerID)
	if err != nil || !kept {
		if err == nil {
			return s.store.ListCredentialsByProvider(ctx, ownerID, provider)
		}
		return nil, err
	}
	var out []Credential
	for _, c := range list {
		if c.ProviderName == provider {
			out = append(out, c)
		}
	}
	return out, nil
}

// Get returns one credential and its key's mask. Values written by the
// Python service have no stored mask and are decrypted to compute it.
func (s *Service) Get(ctx context.Context, ownerID, id string) (Credential, string, error) {
	if err := requireOwner(ownerID); err != nil {
		return Credential{}, "", err
	}
	c, err := s.store.GetCredential(ctx, ownerID, id)
	if err != nil {
		return Credential{}, "", err
	}
	if c.KeyMasked != "" || c.Ciphertext == "" {
		return c, c.KeyMasked, nil
	}
	plain, err := s.open(c)
	if err != nil {
		return Credential{}, "", err
	}
	return c, Mask(plain), nil
}

// Update changes the fields set in ch. A key given is encrypted under the
// current key; a record still on an old key or in the legacy format is
// re-encrypted on the way.
func (s *Service) Update(ctx context.Context, ownerID, id string, ch Changes) (Credential, error) {
	if err := requireOwner(ownerID); err != nil {
		return Credential{}, err
	}
	if ch.empty() {
		return Credential{}, ErrNothingToUpdate
	}
	cur, err := s.store.GetCredential(ctx, ownerID, id)
	if err != nil {
		return Credential{}, err
	}
	// The provider may have been switched off since: updating its
	// credentials stays possible, creating new ones does not.
	p, err := s.provider(ctx, cur.ProviderName)
	if err != nil && !errors.Is(err, ErrProviderNotFound) {
		return Credential{}, err
	}
	u := Update{IsActive: ch.IsActive, UpdatedAt: s.clock()}
	if ch.Name != nil {
		name, err := normalizeName(*ch.Name)
		if err != nil {
			return Credential{}, err
		}
		u.Name = &name
	}
	if ch.BaseURL != nil {
		baseURL, err := normalizeBaseURL(*ch.BaseURL)
		if err != nil {
			return Credential{}, err
		}
		u.BaseURL = &baseURL
	}
	if ch.AdditionalHeaders != nil {
		if err := validateHeaders(*ch.AdditionalHeaders, p.APIKeyHeader); err != nil {
			return Credential{}, err
		}
		u.AdditionalHeaders = ch.AdditionalHeaders
	}
	if ch.APIKey != nil {
		key, err := normalizeKey(*ch.APIKey, p.RequiresKey || p.Name == "")
		if err != nil {
			return Credential{}, err
		}
		km, err := s.seal(key, cur.ID, cur.OwnerID)
		if err != nil {
			return Credential{}, err
		}
		u.Key = &km
	}
	updated, err := s.store.UpdateCredential(ctx, ownerID, id, u)
	if err != nil {
		return Credential{}, err
	}
	if u.Key == nil && cur.Ciphertext != "" && !s.cipher.IsCurrent(cur.Ciphertext) {
		s.reencrypt(ctx, cur)
	}
	return updated, nil
}

// reencrypt moves one record to the current key, best effort: the write
// the caller asked for has succeeded already, and rotation catches what
// this misses.
func (s *Service) reencrypt(ctx context.Context, c Credential) {
	plain, err := s.open(c)
	if err != nil {
		s.log.WarnContext(ctx, "re-encrypt on write skipped", "credential_id", c.ID, "error", err)
		return
	}
	km, err := s.seal(plain, c.ID, c.OwnerID)
	if err != nil {
		s.log.WarnContext(ctx, "re-encrypt on write skipped", "credential_id", c.ID, "error", err)
		return
	}
	if _, err := s.store.ReplaceKey(ctx, c.ID, c.Ciphertext, km); err != nil {
		s.log.WarnContext(ctx, "re-encrypt on write not stored", "credential_id", c.ID, "error", err)
	}
}

// Delete removes a credential from the owner's view and wipes its key.
func (s *Service) Delete(ctx context.Context, ownerID, id string) error {
	if err := requireOwner(ownerID); err != nil {
		return err
	}
	return s.store.DeleteCredential(ctx, ownerID, id, s.clock())
}

// Resolve hands an internal caller the decrypted key of an active
// credential, with what it needs to call the provider, and records the use.
func (s *Service) Resolve(ctx context.Context, ownerID, id string) (Resolved, error) {
	if err := requireOwner(ownerID); err != nil {
		return Resolved{}, err
	}
	c, err := s.store.GetCredential(ctx, ownerID, id)
	if err != nil {
		return Resolved{}, err
	}
	if !c.IsActive {
		return Resolved{}, ErrInactive
	}
	p, err := s.provider(ctx, c.ProviderName)
	if err != nil {
		return Resolved{}, fmt.Errorf("provider of credential %s: %w", c.ID, err)
	}
	key, err := s.open(c)
	if err != nil {
		return Resolved{}, err
	}
	if err := s.store.RecordUse(ctx, ownerID, id, s.clock()); err != nil {
		return Resolved{}, err
	}
	headers := requestHeaders(p, c.AdditionalHeaders, "")
	if len(headers) == 0 {
		headers = nil
	}
	return Resolved{
		ProviderName: p.Name, APIKey: key, APIKeyHeader: p.APIKeyHeader, APIKeyPrefix: p.APIKeyPrefix,
		BaseURL: baseURLOf(c, p), Headers: headers,
	}, nil
}

// EraseUser hard-deletes every credential of a deleted user.
func (s *Service) EraseUser(ctx context.Context, userID string) error {
	if err := requireOwner(userID); err != nil {
		return err
	}
	if _, err := s.store.DeleteOwner(ctx, userID); err != nil {
		return fmt.Errorf("erase credentials: %w", err)
	}
	return nil
}
