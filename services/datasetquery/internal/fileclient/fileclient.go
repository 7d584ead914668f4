// Package fileclient reaches the fileingest service over NATS for the
// dataset core (datasets.Files), on behalf of the user who owns the file.
package fileclient

import (
	"context"
	"fmt"

	"github.com/nonefinity/backend/contracts/client"
	fv1 "github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/reqctx"
	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
)

// Files implements datasets.Files with the file service's open operation.
type Files struct{ C client.File }

// New returns the adapter over a requester (natsx.NewClient(nc)).
func New(r client.Requester) Files { return Files{C: client.File{R: r}} }

// Open asks fileingest for one of ownerID's files and a presigned GET of
// it. The request carries the caller's metadata with ownerID as the user,
// so fileingest applies its own ownership check: another user's file is
// datasets.ErrFileNotFound.
func (f Files) Open(ctx context.Context, ownerID, fileID string) (datasets.SourceFile, error) {
	m := reqctx.From(ctx)
	m.UserID = ownerID
	rep, err := f.C.Open(reqctx.With(ctx, m), fv1.OpenRequest{FileID: fileID})
	if err != nil {
		if re, ok := rpcerr.As(err); ok && re.Code == rpcerr.NotFound {
			return datasets.SourceFile{}, fmt.Errorf("%w: %w", datasets.ErrFileNotFound, err)
		}
		return datasets.SourceFile{}, fmt.Errorf("open file: %w", err)
	}
	fl := rep.File
	ct := fl.DetectedType
	if ct == "" {
		ct = fl.FileType
	}
	out := datasets.SourceFile{
		ID: fl.ID, Name: fl.FileName, Ext: fl.FileExt, ContentType: ct, Size: fl.FileSize,
		Ready: fl.Status == fv1.StatusReady, Status: string(fl.Status), Error: fl.Error, URL: rep.URL, ETag: rep.ETag,
	}
	if out.ID == "" {
		out.ID = fileID
	}
	if p := fl.Preview; p != nil {
		out.Preview = &datasets.FilePreview{Columns: p.Columns, Encoding: p.Encoding, Delimiter: p.Delimiter,
			HasHeader: p.HasHeader, Sheets: p.Sheets, Sheet: p.Sheet}
	}
	return out, nil
}
