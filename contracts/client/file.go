package client

import (
	"context"

	fv1 "github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/contracts/healthv1"
)

// File calls the fileingest service.
type File struct{ R Requester }

func (c File) UploadURL(ctx context.Context, req fv1.UploadURLRequest) (fv1.UploadURLReply, error) {
	return call[fv1.UploadURLReply](ctx, c.R, fv1.Subject(fv1.OpUploadURL), req)
}

func (c File) Commit(ctx context.Context, req fv1.CommitRequest) (fv1.File, error) {
	return call[fv1.File](ctx, c.R, fv1.Subject(fv1.OpCommit), req)
}

// List returns one page of the caller's files; see fv1.ListReply.
func (c File) List(ctx context.Context, req fv1.ListRequest) (fv1.ListReply, error) {
	return call[fv1.ListReply](ctx, c.R, fv1.Subject(fv1.OpList), req)
}

func (c File) Get(ctx context.Context, req fv1.GetRequest) (fv1.File, error) {
	return call[fv1.File](ctx, c.R, fv1.Subject(fv1.OpGet), req)
}

func (c File) Search(ctx context.Context, req fv1.SearchRequest) (fv1.ListReply, error) {
	return call[fv1.ListReply](ctx, c.R, fv1.Subject(fv1.OpSearch), req)
}

func (c File) Rename(ctx context.Context, req fv1.RenameRequest) (fv1.File, error) {
	return call[fv1.File](ctx, c.R, fv1.Subject(fv1.OpRename), req)
}

func (c File) Delete(ctx context.Context, req fv1.DeleteRequest) (fv1.DeleteReply, error) {
	return call[fv1.DeleteReply](ctx, c.R, fv1.Subject(fv1.OpDelete), req)
}

func (c File) BatchDelete(ctx context.Context, req fv1.BatchDeleteRequest) (fv1.BatchDeleteReply, error) {
	return call[fv1.BatchDeleteReply](ctx, c.R, fv1.Subject(fv1.OpBatchDelete), req)
}

func (c File) Stats(ctx context.Context) (fv1.StatsReply, error) {
	return call[fv1.StatsReply](ctx, c.R, fv1.Subject(fv1.OpStats), noParams{})
}

func (c File) Types(ctx context.Context) (fv1.TypesReply, error) {
	return call[fv1.TypesReply](ctx, c.R, fv1.Subject(fv1.OpTypes), noParams{})
}

func (c File) DownloadURL(ctx context.Context, req fv1.DownloadURLRequest) (fv1.DownloadURLReply, error) {
	return call[fv1.DownloadURLReply](ctx, c.R, fv1.Subject(fv1.OpDownloadURL), req)
}

// AllowConvert returns one page of the caller's convertible files.
func (c File) AllowConvert(ctx context.Context, req fv1.ListRequest) (fv1.ListReply, error) {
	return call[fv1.ListReply](ctx, c.R, fv1.Subject(fv1.OpAllowConvert), req)
}

// Open grants read access to one of the calling user's files; for other
// services (datasetquery), never routed from HTTP.
func (c File) Open(ctx context.Context, req fv1.OpenRequest) (fv1.OpenReply, error) {
	return call[fv1.OpenReply](ctx, c.R, fv1.Subject(fv1.OpOpen), req)
}

// MultipartStart begins an upload of unknown size as S3 parts.
func (c File) MultipartStart(ctx context.Context, req fv1.MultipartStartRequest) (fv1.MultipartStartReply, error) {
	return call[fv1.MultipartStartReply](ctx, c.R, fv1.Subject(fv1.OpMultipartStart), req)
}

// MultipartPartURLs presigns the PUTs of a range of parts.
func (c File) MultipartPartURLs(ctx context.Context, req fv1.MultipartPartURLsRequest) (fv1.MultipartPartURLsReply, error) {
	return call[fv1.MultipartPartURLsReply](ctx, c.R, fv1.Subject(fv1.OpMultipartPartURLs), req)
}

// MultipartComplete assembles the uploaded parts into the object.
func (c File) MultipartComplete(ctx context.Context, req fv1.MultipartCompleteRequest) (fv1.MultipartCompleteReply, error) {
	return call[fv1.MultipartCompleteReply](ctx, c.R, fv1.Subject(fv1.OpMultipartComplete), req)
}

// AbortUpload removes an upload that will not be committed.
func (c File) AbortUpload(ctx context.Context, req fv1.AbortUploadRequest) (fv1.AbortUploadReply, error) {
	return call[fv1.AbortUploadReply](ctx, c.R, fv1.Subject(fv1.OpAbortUpload), req)
}

func (c File) Health(ctx context.Context) (healthv1.Reply, error) {
	return call[healthv1.Reply](ctx, c.R, fv1.Subject(fv1.OpHealth), healthv1.Request{})
}
