package credential

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nonefinity/backend/services/credential/internal/keyring"
)

// Rotation re-encrypts every live record that is not under the current key
// (old secrets, the legacy Fernet format) in batches ordered by id. After
// each batch the progress, with the last id handled, is stored together
// with a lease, so one instance at a time runs it and a stopped or crashed
// run resumes after the last stored batch. Reads keep working throughout:
// every record stays decryptable with the current or a previous secret.

// StartRotation starts rotating in the background unless a rotation already
// runs, here or (per the lease) in another instance; started says which.
func (s *Service) StartRotation(ctx context.Context, batchSize int) (started bool, p RotationProgress, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rotating {
		p, _, err := s.store.LoadRotation(ctx)
		return false, p, err
	}
	p, claimed, err := s.claimRotation(ctx, batchSize)
	if err != nil || !claimed {
		return false, p, err
	}
	s.rotating = true
	s.jobsWG.Go(func() {
		defer s.setRotating(false)
		if _, err := s.rotateClaimed(s.jobs, p); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error("key rotation stopped", "error", err)
		}
	})
	return true, p, nil
}

// ResumeRotation resumes, in the background, a rotation that a stopped
// process left running. When another holder's lease is still valid it
// waits for the lease to expire (that holder may be dead) and tries again.
func (s *Service) ResumeRotation(ctx context.Context) error {
	p, found, err := s.store.LoadRotation(ctx)
	if err != nil {
		return fmt.Errorf("load rotation progress: %w", err)
	}
	if !found || p.State != RotationRunning {
		return nil
	}
	s.jobsWG.Go(func() {
		for {
			started, _, err := s.StartRotation(s.jobs, 0)
			if err != nil && s.jobs.Err() == nil {
				s.log.Error("resume key rotation", "error", err)
			}
			if started || s.jobs.Err() != nil {
				return
			}
			cur, found, err := s.store.LoadRotation(s.jobs)
			if err == nil && (!found || cur.State != RotationRunning) {
				return
			}
			select {
			case <-s.jobs.Done():
				return
			case <-time.After(s.lease):
			}
		}
	})
	return nil
}

func (s *Service) setRotating(v bool) {
	s.mu.Lock()
	s.rotating = v
	s.mu.Unlock()
}

// RunRotation claims and runs a rotation to its end in the caller's
// goroutine. A cancelled ctx stops it after the current batch with its
// progress stored, ready to resume.
func (s *Service) RunRotation(ctx context.Context, batchSize int) (RotationProgress, error) {
	p, claimed, err := s.claimRotation(ctx, batchSize)
	if err != nil {
		return p, err
	}
	if !claimed {
		return p, errors.New("rotation is running in another instance")
	}
	return s.rotateClaimed(ctx, p)
}

// claimRotation takes the lease and decides whether to resume the stored
// rotation (still running, towards the current key) or to start afresh.
func (s *Service) claimRotation(ctx context.Context, batchSize int) (RotationProgress, bool, error) {
	now := s.clock()
	p, claimed, err := s.store.ClaimRotation(ctx, s.holder, now, now.Add(s.lease))
	if err != nil || !claimed {
		return p, false, err
	}
	if p.State == RotationRunning && p.TargetKeyID == s.cipher.KeyID() {
		if batchSize > 0 {
			p.BatchSize = batchSize
		}
		if p.BatchSize <= 0 {
			p.BatchSize = s.batchSize
		}
		return p, true, nil
	}
	total, err := s.store.CountNotOnKey(ctx, s.cipher.KeyID())
	if err != nil {
		s.release(ctx, p)
		return p, false, err
	}
	if batchSize <= 0 {
		batchSize = s.batchSize
	}
	p = RotationProgress{State: RotationRunning, TargetKeyID: s.cipher.KeyID(), Total: total, StartedAt: &now, BatchSize: batchSize}
	if err := s.store.SaveRotation(ctx, s.holder, p, now.Add(s.lease)); err != nil {
		return p, false, err
	}
	return p, true, nil
}

func (s *Service) rotateClaimed(ctx context.Context, p RotationProgress) (RotationProgress, error) {
	kid := s.cipher.KeyID()
	for {
		if err := ctx.Err(); err != nil {
			s.release(ctx, p)
			return p, err
		}
		batch, err := s.store.NotOnKeyAfter(ctx, kid, p.LastID, p.BatchSize)
		if err != nil {
			s.release(ctx, p)
			return p, fmt.Errorf("read rotation batch after %q: %w", p.LastID, err)
		}
		if len(batch) == 0 {
			break
		}
		for _, rec := range batch {
			s.rotateRecord(ctx, rec, &p)
		}
		p.LastID = batch[len(batch)-1].ID
		if err := s.store.SaveRotation(ctx, s.holder, p, s.clock().Add(s.lease)); err != nil {
			if !errors.Is(err, ErrRotationLeaseLost) {
				s.release(ctx, p)
			}
			return p, fmt.Errorf("store rotation progress: %w", err)
		}
		s.progress(p)
	}
	finished := s.clock()
	p.FinishedAt = &finished
	p.State = RotationDone
	if p.Failed > 0 {
		p.State = RotationFailed
	}
	if err := s.store.SaveRotation(context.WithoutCancel(ctx), s.holder, p, time.Time{}); err != nil {
		return p, fmt.Errorf("store rotation result: %w", err)
	}
	s.log.Info("key rotation finished", "state", p.State, "processed", p.Processed, "failed", p.Failed, "key_id", kid)
	s.progress(p)
	return p, nil
}

// rotateRecord re-encrypts one record. A record that no secret decrypts is
// counted as failed and left as it is; a record written meanwhile (by an
// update, which always uses the current key) needs nothing.
func (s *Service) rotateRecord(ctx context.Context, rec KeyRecord, p *RotationProgress) {
	plain, err := s.cipher.Decrypt(rec.Ciphertext, keyring.Binding{CredentialID: rec.ID, OwnerID: rec.OwnerID})
	if err != nil {
		p.Failed++
		p.LastError = fmt.Sprintf("record %s: cannot be decrypted with the configured secrets", rec.ID)
		return
	}
	km, err := s.seal(plain, rec.ID, rec.OwnerID)
	if err != nil {
		p.Failed++
		p.LastError = fmt.Sprintf("record %s: %v", rec.ID, err)
		return
	}
	if _, err := s.store.ReplaceKey(ctx, rec.ID, rec.Ciphertext, km); err != nil {
		p.Failed++
		p.LastError = fmt.Sprintf("record %s: store: %v", rec.ID, err)
		return
	}
	p.Processed++
}

// release stores progress and gives the lease up, so the next start or
// trigger resumes at once instead of waiting for the lease to expire.
func (s *Service) release(ctx context.Context, p RotationProgress) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.store.SaveRotation(sctx, s.holder, p, time.Time{}); err != nil {
		s.log.Warn("release rotation lease", "error", err)
	}
}

func (s *Service) progress(p RotationProgress) {
	if s.onProgress != nil {
		s.onProgress(p)
	}
}
