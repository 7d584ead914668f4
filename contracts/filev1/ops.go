// Package filev1 is the contract of the fileingest service: uploads into
// object storage, file metadata and processing results, reached over NATS at
// svc.file.v1.<op>, and the events it publishes on the FILES stream.
package filev1

import (
	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/healthv1"
)

// Operation names, the last token of svc.file.v1.<op>.
const (
	OpUploadURL    = "upload_url"    // UploadURLRequest -> UploadURLReply
	OpCommit       = "commit"        // CommitRequest -> File (POST /file/upload after the PUT)
	OpList         = "list"          // ListRequest -> ListReply
	OpGet          = "get"           // GetRequest -> File
	OpSearch       = "search"        // SearchRequest -> ListReply
	OpRename       = "rename"        // RenameRequest -> File
	OpDelete       = "delete"        // DeleteRequest -> DeleteReply
	OpBatchDelete  = "batch_delete"  // BatchDeleteRequest -> BatchDeleteReply
	OpStats        = "stats"         // {} -> StatsReply
	OpTypes        = "types"         // {} -> TypesReply
	OpDownloadURL  = "download_url"  // DownloadURLRequest -> DownloadURLReply
	OpAllowConvert = "allow_convert" // ListRequest -> ListReply
	// OpOpen grants another service (datasetquery) a presigned GET for a file
	// the calling user owns.
	OpOpen = "open" // OpenRequest -> OpenReply
	// The gateway relays a multipart/form-data file of unknown size as an
	// S3 multipart upload: start, part URLs, complete, then commit; or
	// abort when the stream fails or goes over the limit.
	OpMultipartStart    = "multipart_start"     // MultipartStartRequest -> MultipartStartReply
	OpMultipartPartURLs = "multipart_part_urls" // MultipartPartURLsRequest -> MultipartPartURLsReply
	OpMultipartComplete = "multipart_complete"  // MultipartCompleteRequest -> MultipartCompleteReply
	OpAbortUpload       = "abort_upload"        // AbortUploadRequest -> AbortUploadReply
	OpHealth            = healthv1.Op           // {} -> healthv1.Reply
)

// Ops lists every operation of the service, for registration and checks.
func Ops() []string {
	return []string{
		OpUploadURL, OpCommit, OpList, OpGet, OpSearch, OpRename, OpDelete,
		OpBatchDelete, OpStats, OpTypes, OpDownloadURL, OpAllowConvert, OpOpen,
		OpMultipartStart, OpMultipartPartURLs, OpMultipartComplete, OpAbortUpload, OpHealth,
	}
}

// Subject is the request subject of one operation.
func Subject(op string) string {
	return contracts.RequestSubject(contracts.ServiceFile, op)
}
