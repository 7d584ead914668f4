// Package natsapi serves the fileingest contract (contracts/filev1) as micro
// endpoints: each decodes the request, converts it, calls the core, maps the
// core's errors once, and encodes the reply. Every operation acts for the
// user named in the request's Nf-User-Id header; another user's file is
// never found.
package natsapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/fielderr"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/services/fileingest/internal/files"
)

// concurrency lets one instance serve this many requests of an endpoint at
// once: most of them wait on MongoDB or object storage.
const concurrency = 16

type api struct {
	core *files.Service
	// replyBytes is the most a page of a list may take.
	replyBytes int
}

type noParams struct{}

// Register adds an endpoint for every operation of filev1 but health
// (which the app registers with its checks). maxPayload is the NATS
// connection's limit on one message (nats.Conn.MaxPayload): a page of a
// list stays below it.
func Register(svc *natsx.Service, core *files.Service, maxPayload int64) error {
	a := api{core: core, replyBytes: natsx.PageBudget(maxPayload)}
	opt := natsx.WithConcurrency(concurrency)
	describe := natsx.WithDescription
	return errors.Join(
		natsx.Handle(svc, filev1.Subject(filev1.OpUploadURL), a.uploadURL, opt, describe("presigned PUT for a new upload")),
		natsx.Handle(svc, filev1.Subject(filev1.OpCommit), a.commit, opt, describe("record an uploaded object as a file")),
		natsx.Handle(svc, filev1.Subject(filev1.OpMultipartStart), a.multipartStart, opt, describe("begin an upload of unknown size as S3 parts")),
		natsx.Handle(svc, filev1.Subject(filev1.OpMultipartPartURLs), a.multipartPartURLs, opt, describe("presigned PUTs for the next parts of an upload")),
		natsx.Handle(svc, filev1.Subject(filev1.OpMultipartComplete), a.multipartComplete, opt, describe("assemble the parts and record the file")),
		natsx.Handle(svc, filev1.Subject(filev1.OpAbortUpload), a.abortUpload, opt, describe("remove an upload that will not be committed")),
		natsx.Handle(svc, filev1.Subject(filev1.OpList), a.list, opt, describe("page through the caller's files")),
		natsx.Handle(svc, filev1.Subject(filev1.OpGet), a.get, opt, describe("one file with its preview")),
		natsx.Handle(svc, filev1.Subject(filev1.OpSearch), a.search, opt, describe("files whose name matches")),
		natsx.Handle(svc, filev1.Subject(filev1.OpRename), a.rename, opt, describe("rename a file")),
		natsx.Handle(svc, filev1.Subject(filev1.OpDelete), a.delete, opt, describe("delete a file and its object")),
		natsx.Handle(svc, filev1.Subject(filev1.OpBatchDelete), a.batchDelete, opt, describe("delete several files")),
		natsx.Handle(svc, filev1.Subject(filev1.OpStats), a.stats, opt, describe("the caller's file count and storage use")),
		natsx.Handle(svc, filev1.Subject(filev1.OpTypes), a.types, opt, describe("the file types accepted")),
		natsx.Handle(svc, filev1.Subject(filev1.OpDownloadURL), a.downloadURL, opt, describe("presigned GET of a file for its owner")),
		natsx.Handle(svc, filev1.Subject(filev1.OpAllowConvert), a.allowConvert, opt, describe("page through the files that may be converted")),
		natsx.Handle(svc, filev1.Subject(filev1.OpOpen), a.open, opt, describe("presigned GET of a file, for other services")),
	)
}

func (a api) uploadURL(ctx context.Context, req filev1.UploadURLRequest) (filev1.UploadURLReply, error) {
	g, err := a.core.UploadURL(ctx, natsx.UserID(ctx), files.UploadRequest{FileName: req.FileName, Size: req.FileSize, Type: req.FileType})
	if err != nil {
		return filev1.UploadURLReply{}, mapError(err)
	}
	return filev1.UploadURLReply{
		UploadURL: g.URL, ObjectName: g.ObjectName, ExpiresIn: int(g.ExpiresIn.Seconds()), MaxSize: g.MaxSize,
	}, nil
}

func (a api) commit(ctx context.Context, req filev1.CommitRequest) (filev1.File, error) {
	f, err := a.core.Commit(ctx, natsx.UserID(ctx), files.CommitRequest{
		ObjectName: req.ObjectName, FileName: req.FileName, Size: req.FileSize, Type: req.FileType,
	})
	if err != nil {
		return filev1.File{}, mapError(err)
	}
	return fromCoreFile(f), nil
}

func (a api) multipartStart(ctx context.Context, req filev1.MultipartStartRequest) (filev1.MultipartStartReply, error) {
	g, err := a.core.StartMultipart(ctx, natsx.UserID(ctx), req.FileName, req.FileType)
	if err != nil {
		return filev1.MultipartStartReply{}, mapError(err)
	}
	return filev1.MultipartStartReply{
		ObjectName: g.ObjectName, UploadID: g.UploadID, PartSize: g.PartSize, MaxSize: g.MaxSize,
		ExpiresIn: int(g.ExpiresIn.Seconds()),
	}, nil
}

func (a api) multipartPartURLs(ctx context.Context, req filev1.MultipartPartURLsRequest) (filev1.MultipartPartURLsReply, error) {
	urls, ttl, err := a.core.PartURLs(ctx, natsx.UserID(ctx), req.ObjectName, req.UploadID, req.FirstPart, req.Count)
	if err != nil {
		return filev1.MultipartPartURLsReply{}, mapError(err)
	}
	return filev1.MultipartPartURLsReply{URLs: urls, ExpiresIn: int(ttl.Seconds())}, nil
}

func (a api) multipartComplete(ctx context.Context, req filev1.MultipartCompleteRequest) (filev1.MultipartCompleteReply, error) {
	parts := make([]files.Part, len(req.Parts))
	for i, p := range req.Parts {
		parts[i] = files.Part{Number: p.PartNumber, ETag: p.ETag}
	}
	size, err := a.core.CompleteMultipart(ctx, natsx.UserID(ctx), req.ObjectName, req.UploadID, parts)
	if err != nil {
		return filev1.MultipartCompleteReply{}, mapError(err)
	}
	return filev1.MultipartCompleteReply{ObjectName: req.ObjectName, Size: size}, nil
}

func (a api) abortUpload(ctx context.Context, req filev1.AbortUploadRequest) (filev1.AbortUploadReply, error) {
	if err := a.core.AbortUpload(ctx, natsx.UserID(ctx), req.ObjectName, req.UploadID); err != nil {
		return filev1.AbortUploadReply{}, mapError(err)
	}
	return filev1.AbortUploadReply{ObjectName: req.ObjectName}, nil
}

func (a api) list(ctx context.Context, req filev1.ListRequest) (filev1.ListReply, error) {
	return a.listPage(ctx, req, a.core.List)
}

func (a api) get(ctx context.Context, req filev1.GetRequest) (filev1.File, error) {
	f, err := a.core.Get(ctx, natsx.UserID(ctx), req.ID)
	if err != nil {
		return filev1.File{}, mapError(err)
	}
	return fromCoreFile(f), nil
}

func (a api) search(ctx context.Context, req filev1.SearchRequest) (filev1.ListReply, error) {
	fs, err := a.core.Search(ctx, natsx.UserID(ctx), files.SearchQuery{Name: req.Q, TypePrefix: req.FileType, Limit: req.Limit})
	if err != nil {
		return filev1.ListReply{}, mapError(err)
	}
	// A search is one reply of at most Limit files; in the unlikely case
	// that they do not fit in it, fewer are as good an answer.
	found, _, err := a.fit(fs)
	if err != nil {
		return filev1.ListReply{}, err
	}
	return filev1.ListReply{Files: found}, nil
}

func (a api) rename(ctx context.Context, req filev1.RenameRequest) (filev1.File, error) {
	f, err := a.core.Rename(ctx, natsx.UserID(ctx), req.ID, req.NewName)
	if err != nil {
		return filev1.File{}, mapError(err)
	}
	return fromCoreFile(f), nil
}

func (a api) delete(ctx context.Context, req filev1.DeleteRequest) (filev1.DeleteReply, error) {
	f, err := a.core.Delete(ctx, natsx.UserID(ctx), req.ID)
	if err != nil {
		return filev1.DeleteReply{}, mapError(err)
	}
	return filev1.DeleteReply{FileID: f.ID}, nil
}

func (a api) batchDelete(ctx context.Context, req filev1.BatchDeleteRequest) (filev1.BatchDeleteReply, error) {
	res, err := a.core.BatchDelete(ctx, natsx.UserID(ctx), req.FileIDs)
	if err != nil {
		return filev1.BatchDeleteReply{}, mapError(err)
	}
	reply := filev1.BatchDeleteReply{Successful: res.Deleted}
	for _, f := range res.Failed {
		reply.Failed = append(reply.Failed, filev1.BatchFailure{FileID: f.ID, Error: f.Reason})
	}
	return reply, nil
}

func (a api) stats(ctx context.Context, _ noParams) (filev1.StatsReply, error) {
	st, err := a.core.Stats(ctx, natsx.UserID(ctx))
	if err != nil {
		return filev1.StatsReply{}, mapError(err)
	}
	return filev1.StatsReply{
		TotalFiles: st.TotalFiles, TotalSize: st.TotalSize, TotalSizeMB: files.SizeMB(st.TotalSize), FileTypes: st.ByMajorType,
	}, nil
}

func (a api) types(ctx context.Context, _ noParams) (filev1.TypesReply, error) {
	ts, err := a.core.Types(ctx, natsx.UserID(ctx))
	if err != nil {
		return filev1.TypesReply{}, mapError(err)
	}
	return filev1.TypesReply{Types: ts}, nil
}

func (a api) downloadURL(ctx context.Context, req filev1.DownloadURLRequest) (filev1.DownloadURLReply, error) {
	acc, err := a.core.DownloadURL(ctx, natsx.UserID(ctx), req.ID)
	if err != nil {
		return filev1.DownloadURLReply{}, mapError(err)
	}
	return filev1.DownloadURLReply{URL: acc.URL, ExpiresIn: int(acc.ExpiresIn.Seconds())}, nil
}

func (a api) allowConvert(ctx context.Context, req filev1.ListRequest) (filev1.ListReply, error) {
	return a.listPage(ctx, req, a.core.AllowConvert)
}

func (a api) open(ctx context.Context, req filev1.OpenRequest) (filev1.OpenReply, error) {
	acc, err := a.core.Open(ctx, natsx.UserID(ctx), req.FileID)
	if err != nil {
		return filev1.OpenReply{}, mapError(err)
	}
	return filev1.OpenReply{URL: acc.URL, ExpiresIn: int(acc.ExpiresIn.Seconds()), File: fromCoreFile(acc.File), ETag: acc.File.ETag}, nil
}

// mapError turns the core's sentinel errors into rpcerr codes, in one
// place. Errors that already carry a code (an unreachable database, an
// unavailable event stream) keep it; anything else becomes an internal
// error that natsx logs with an error id.
func mapError(err error) error {
	var fe *fielderr.Error
	switch {
	case errors.Is(err, files.ErrNoUser):
		return rpcerr.New(rpcerr.Unauthorized, "the request names no user")
	case errors.Is(err, files.ErrNotFound):
		return rpcerr.NotFoundf("file not found")
	case errors.As(err, &fe):
		return rpcerr.Field(fieldCode(fe.Kind), fe.Field, fe.Message)
	case errors.Is(err, files.ErrUploadExpired):
		return rpcerr.Field(rpcerr.Conflict, "object_name", files.ErrUploadExpired.Error())
	case errors.Is(err, files.ErrBusy):
		return rpcerr.New(rpcerr.RateLimited, files.ErrBusy.Error())
	case errors.Is(err, files.ErrDatabaseUnavailable):
		return fmt.Errorf("%w: %w", rpcerr.New(rpcerr.Unavailable, "database unavailable"), err)
	case errors.Is(err, files.ErrStorageUnavailable):
		return fmt.Errorf("%w: %w", rpcerr.New(rpcerr.Unavailable, "object storage unavailable"), err)
	}
	return err
}

func fieldCode(kind error) rpcerr.Code {
	switch {
	case errors.Is(kind, files.ErrTooLarge), errors.Is(kind, files.ErrQuotaExceeded):
		return rpcerr.TooLarge
	case errors.Is(kind, files.ErrSizeMismatch):
		return rpcerr.BadRequest
	}
	return rpcerr.Validation
}

func fromCoreFile(f files.File) filev1.File {
	return filev1.File{
		ID: f.ID, OwnerID: f.OwnerID, Bucket: f.Bucket, FilePath: f.FilePath, FileName: f.FileName,
		FileExt: f.FileExt, FileType: f.FileType, FileSize: f.FileSize, URL: f.URL,
		Status: filev1.Status(f.Status), Category: f.Category, DetectedType: f.DetectedType,
		SHA256: f.SHA256, Error: f.Error, Preview: fromCorePreview(f.Preview),
		CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt,
	}
}

func fromCorePreview(p *files.Preview) *filev1.Preview {
	if p == nil {
		return nil
	}
	return &filev1.Preview{
		Columns: p.Columns, Encoding: p.Encoding, Delimiter: p.Delimiter, HasHeader: p.HasHeader, SkipRows: p.SkipRows,
		Rows: p.Rows, Sheets: p.Sheets, Sheet: p.Sheet,
	}
}
