package credentialv1

import "time"

// EncryptionHealthReply reports the state of key encryption: the current
// algorithm and key, a round-trip self test, and how far a key rotation got.
type EncryptionHealthReply struct {
	EncryptionHealthy   bool   `json:"encryption_healthy"`
	TestPassed          bool   `json:"test_passed"`
	EncryptionAlgorithm string `json:"encryption_algorithm,omitempty"`
	KDFIterations       int    `json:"kdf_iterations,omitempty"`
	KeyID               string `json:"key_id,omitempty"`
	// RecordsOnOldKeys and Rotation count every user's records: they are
	// answered to admins only and omitted for everyone else.
	RecordsOnOldKeys *int64            `json:"records_on_old_keys,omitempty"`
	Rotation         *RotationProgress `json:"rotation,omitempty"`
	Timestamp        time.Time         `json:"timestamp"`
	Error            string            `json:"error,omitempty"`
}

// Rotation states.
const (
	RotationIdle    = "idle"
	RotationRunning = "running"
	RotationDone    = "done"
	RotationFailed  = "failed"
)

// RotationProgress is where the re-encryption of every record to the current
// key stands; it survives restarts, so a rotation resumes where it stopped.
type RotationProgress struct {
	State       string     `json:"state"`
	TargetKeyID string     `json:"target_key_id"`
	Total       int64      `json:"total"`
	Processed   int64      `json:"processed"`
	Failed      int64      `json:"failed"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
}

// RotateRequest starts (or resumes) re-encrypting every record to the current
// key. BatchSize 0 lets the service choose.
type RotateRequest struct {
	BatchSize int `json:"batch_size,omitempty"`
}

// RotateReply says whether this request started a rotation (false when one
// was already running) and where it stands.
type RotateReply struct {
	Started  bool             `json:"started"`
	Rotation RotationProgress `json:"rotation"`
}

// Key length bounds of generate_key, in bytes.
const (
	GenerateKeyMinLength     = 16
	GenerateKeyMaxLength     = 128
	GenerateKeyDefaultLength = 32
)

// GenerateKeyRequest asks for a random secret of Length bytes (0 means the
// default).
type GenerateKeyRequest struct {
	Length int `json:"length,omitempty"`
}

// GenerateKeyReply is a fresh secret, base64url encoded, for use as
// CREDENTIAL_SECRET_KEY.
type GenerateKeyReply struct {
	SecureKey      string    `json:"secure_key"`
	Length         int       `json:"length"`
	Timestamp      time.Time `json:"timestamp"`
	Recommendation string    `json:"recommendation"`
}
