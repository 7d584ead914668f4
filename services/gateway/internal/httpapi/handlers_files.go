package httpapi

import (
	"context"
	"net/http"

	fv1 "github.com/nonefinity/backend/contracts/filev1"
)

func (a *API) fileUploadURL(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, fromBody, a.files.UploadURL, http.StatusOK, "upload url")
}

// fileUpload commits an object the client already PUT to its presigned URL
// (JSON), or takes the file itself (multipart field "file").
func (a *API) fileUpload(w http.ResponseWriter, r *http.Request) {
	if mediaTypeOf(r) == mediaMultipart {
		a.uploadMultipart(w, r)
		return
	}
	var req fv1.CommitRequest
	if e := bindBody(w, r, &req); e != nil {
		a.reject(w, e)
		return
	}
	ctx, cancel := a.callCtx(r)
	defer cancel()
	file, err := a.files.Commit(ctx, req)
	a.reply(w, r, http.StatusCreated, "file uploaded", file, err)
}

// nonNilFiles keeps an empty list a JSON [] in the envelope.
func nonNilFiles(files []fv1.File) []fv1.File {
	if files == nil {
		return []fv1.File{}
	}
	return files
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

func (a *API) fileSearch(w http.ResponseWriter, r *http.Request) {
	var req fv1.SearchRequest
	if e := bindQuery(r, &req); e != nil {
		a.reject(w, e)
		return
	}
	ctx, cancel := a.callCtx(r)
	defer cancel()
	reply, err := a.files.Search(ctx, req)
	a.reply(w, r, http.StatusOK, "files", nonNilFiles(reply.Files), err)
}

func (a *API) fileStats(w http.ResponseWriter, r *http.Request) {
	serveNoInput(a, w, r, a.files.Stats, http.StatusOK, "file stats")
}

func (a *API) fileTypes(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := a.callCtx(r)
	defer cancel()
	reply, err := a.files.Types(ctx)
	types := reply.Types
	if types == nil {
		types = []string{}
	}
	a.reply(w, r, http.StatusOK, "file types", types, err)
}

func (a *API) fileAllowConvert(w http.ResponseWriter, r *http.Request) {
	streamList(a, w, r, "files", "", filePages(a.files.AllowConvert), nil)
}

func (a *API) fileGet(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, byID("file_id", "file", func(id string) fv1.GetRequest { return fv1.GetRequest{ID: id} }),
		a.files.Get, http.StatusOK, "file")
}

func (a *API) fileDownload(w http.ResponseWriter, r *http.Request) {
	id, e := pathID(r, "file_id", "file")
	if e != nil {
		a.reject(w, e)
		return
	}
	ctx, cancel := a.callCtx(r)
	defer cancel()
	reply, err := a.files.DownloadURL(ctx, fv1.DownloadURLRequest{ID: id})
	a.reply(w, r, http.StatusOK, "download url", reply.URL, err)
}

// renameQuery is the query of PUT /file/rename/{file_id}.
type renameQuery struct {
	NewName string `form:"new_name" json:"new_name" doc:"New file name"`
}

func (a *API) fileRename(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, byIDAndQuery("file_id", "file", func(id string, q renameQuery) fv1.RenameRequest { return fv1.RenameRequest{ID: id, NewName: q.NewName} }),
		a.files.Rename, http.StatusOK, "file renamed")
}

func (a *API) fileDelete(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, byID("file_id", "file", func(id string) fv1.DeleteRequest { return fv1.DeleteRequest{ID: id} }),
		a.files.Delete, http.StatusOK, "file deleted")
}

func (a *API) fileBatchDelete(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, fromBody, a.files.BatchDelete, http.StatusOK, "batch delete")
}
