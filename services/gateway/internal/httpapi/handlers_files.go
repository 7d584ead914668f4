package httpapi

import (
	"context"
	"net/http"

	fv1 "github.com/nonefinity/backend/contracts/filev1"
)

func (a *API) fileUploadURL(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, fromBody, a.files.UploadURL, http.StatusOK, "upload url", asIs)
}

// fileUpload commits an object the client already PUT to its presigned URL
// (JSON), or takes the file itself (multipart field "file").
func (a *API) fileUpload(w http.ResponseWriter, r *http.Request) {
	if mediaTypeOf(r) == mediaMultipart {
		a.uploadMultipart(w, r)
		return
	}
	serveCall(a, w, r, fromBody, a.files.Commit, http.StatusCreated, "file uploaded", asIs)
}

func (a *API) fileList(w http.ResponseWriter, r *http.Request) {
	streamList(a, w, r, "files", "", filePages(a.files.List), nil)
}

// filePages reads a file list of fileingest page by page: each of its
// replies is one NATS message, so a long list comes in several.
func filePages(list func(context.Context, fv1.ListRequest) (fv1.ListReply, error)) func(context.Context, string) (listPage[fv1.File, string], error) {
	return func(ctx context.Context, cursor string) (listPage[fv1.File, string], error) {
		reply, err := list(ctx, fv1.ListRequest{Cursor: cursor})
		return listPage[fv1.File, string]{items: reply.Files, next: reply.Next}, err
	}
}

// fileSearch answers the files alone; the contract has them [] when none
// matched.
func (a *API) fileSearch(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, fromQuery, a.files.Search, http.StatusOK, "files", func(reply fv1.ListReply, ans answer) answer {
		ans.data = reply.Files
		return ans
	})
}

func (a *API) fileStats(w http.ResponseWriter, r *http.Request) {
	serveNoInput(a, w, r, a.files.Stats, http.StatusOK, "file stats", asIs)
}

// fileTypes answers the types alone; the contract has them [] when there
// are none.
func (a *API) fileTypes(w http.ResponseWriter, r *http.Request) {
	serveNoInput(a, w, r, a.files.Types, http.StatusOK, "file types", func(reply fv1.TypesReply, ans answer) answer {
		ans.data = reply.Types
		return ans
	})
}

func (a *API) fileAllowConvert(w http.ResponseWriter, r *http.Request) {
	streamList(a, w, r, "files", "", filePages(a.files.AllowConvert), nil)
}

func (a *API) fileGet(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, byID("file_id", "file", func(id string) fv1.GetRequest { return fv1.GetRequest{ID: id} }),
		a.files.Get, http.StatusOK, "file", asIs)
}

// fileDownload answers the URL alone, as the original service did.
func (a *API) fileDownload(w http.ResponseWriter, r *http.Request) {
	decode := byID("file_id", "file", func(id string) fv1.DownloadURLRequest { return fv1.DownloadURLRequest{ID: id} })
	serveCall(a, w, r, decode, a.files.DownloadURL, http.StatusOK, "download url", func(reply fv1.DownloadURLReply, ans answer) answer {
		ans.data = reply.URL
		return ans
	})
}

// renameQuery is the query of PUT /file/rename/{file_id}.
type renameQuery struct {
	NewName string `form:"new_name" json:"new_name" doc:"New file name"`
}

func toRenameFile(id string, q renameQuery) fv1.RenameRequest {
	return fv1.RenameRequest{ID: id, NewName: q.NewName}
}

func (a *API) fileRename(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, byIDAndQuery("file_id", "file", toRenameFile), a.files.Rename, http.StatusOK, "file renamed", asIs)
}

func (a *API) fileDelete(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, byID("file_id", "file", func(id string) fv1.DeleteRequest { return fv1.DeleteRequest{ID: id} }),
		a.files.Delete, http.StatusOK, "file deleted", asIs)
}

func (a *API) fileBatchDelete(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, fromBody, a.files.BatchDelete, http.StatusOK, "batch delete", asIs)
}
