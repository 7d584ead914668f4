package filev1

// UploadURLRequest asks for a presigned PUT. FileSize is checked against the
// size limit and the caller's quota before any byte is sent.
type UploadURLRequest struct {
	FileName string `json:"file_name"`
	FileSize int64  `json:"file_size"`
	FileType string `json:"file_type"`
}

// UploadURLReply is the grant: PUT the bytes to UploadURL within ExpiresIn
// seconds, then commit ObjectName.
type UploadURLReply struct {
	UploadURL  string `json:"upload_url"`
	ObjectName string `json:"object_name"`
	ExpiresIn  int    `json:"expires_in"`
}

// CommitRequest records an uploaded object as a file (POST /file/upload).
// The object must lie under the caller's prefix and have FileSize bytes.
// Committing the same object again returns the same file.
type CommitRequest struct {
	ObjectName string `json:"object_name"`
	FileName   string `json:"file_name"`
	FileSize   int64  `json:"file_size"`
	FileType   string `json:"file_type"`
}
