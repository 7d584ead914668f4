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
//
// MaxSize is the most bytes the object may have: the size limit or what is
// left of the quota, whichever is smaller.
type UploadURLReply struct {
	UploadURL  string `json:"upload_url"`
	ObjectName string `json:"object_name"`
	ExpiresIn  int    `json:"expires_in"`
	MaxSize    int64  `json:"max_size,omitempty"`
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

// MultipartStartRequest begins an upload whose size is not known in
// advance (the gateway relaying a multipart/form-data part): S3 needs a
// Content-Length for every PUT, so the stream is sent as parts of PartSize
// bytes, each to its own presigned URL. Only a quota already used up is
// refused here; the uploader must stop at MaxSize.
type MultipartStartRequest struct {
	FileName string `json:"file_name"`
	FileType string `json:"file_type"`
}

// MultipartStartReply names the object and the upload. Every part but the
// last has exactly PartSize bytes.
type MultipartStartReply struct {
	ObjectName string `json:"object_name"`
	UploadID   string `json:"upload_id"`
	PartSize   int64  `json:"part_size"`
	MaxSize    int64  `json:"max_size"`
	ExpiresIn  int    `json:"expires_in"`
}

// MultipartPartURLsRequest asks for presigned PUTs of Count parts starting
// at part number FirstPart (1-based).
type MultipartPartURLsRequest struct {
	ObjectName string `json:"object_name"`
	UploadID   string `json:"upload_id"`
	FirstPart  int    `json:"first_part"`
	Count      int    `json:"count"`
}

// MultipartPartURLsReply holds the URLs: URLs[i] is part FirstPart+i.
type MultipartPartURLsReply struct {
	URLs      []string `json:"urls"`
	ExpiresIn int      `json:"expires_in"`
}

// UploadedPart is a part PUT to its URL, with the ETag the PUT answered.
type UploadedPart struct {
	PartNumber int    `json:"part_number"`
	ETag       string `json:"etag"`
}

// MultipartCompleteRequest assembles the parts into the object; commit it
// afterwards like any upload.
type MultipartCompleteRequest struct {
	ObjectName string         `json:"object_name"`
	UploadID   string         `json:"upload_id"`
	Parts      []UploadedPart `json:"parts"`
}

// MultipartCompleteReply is the assembled object's size.
type MultipartCompleteReply struct {
	ObjectName string `json:"object_name"`
	Size       int64  `json:"size"`
}

// AbortUploadRequest gives up on an upload that will not be committed (a
// stream cut short or over the limit): an unfinished multipart upload
// (UploadID) is dropped and the object removed, unless a file already
// records it. Only the caller's own objects can be named; anything else is
// not found.
type AbortUploadRequest struct {
	ObjectName string `json:"object_name"`
	UploadID   string `json:"upload_id,omitempty"`
}

// AbortUploadReply confirms the object is gone.
type AbortUploadReply struct {
	ObjectName string `json:"object_name"`
}
