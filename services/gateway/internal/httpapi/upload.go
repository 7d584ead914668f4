package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"strings"
	"time"

	fv1 "github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/contracts/rpcerr"
)

// The multipart upload relay.
//
// The gateway holds no object-store credentials: fileingest grants the
// upload. S3 needs a Content-Length for every PUT, and a multipart/form-data
// part's length is only known once it has been read, so the part is relayed
// as an S3 multipart upload: fileingest starts it and presigns each part's
// PUT, the gateway sends the stream in parts of the granted size, then
// fileingest assembles them and the upload is committed like any other.
//
// Memory stays constant whatever the size: Options.UploadRelayBytes of
// part buffers (at least two), one being filled from the client while the
// others are being PUT.

const (
	// partURLBatch is how many part URLs are presigned per request.
	partURLBatch = 16
	// maxFieldBytes caps a form field other than the file.
	maxFieldBytes = 64 << 10
	// minPartSize and maxPartSize bound the part size a grant may ask for:
	// S3's minimum, and what two buffers may cost.
	minPartSize = 5 << 20
	maxPartSize = 64 << 20
	// DefaultUploadRelayBytes is what the part buffers of one relay may
	// hold (GATEWAY_UPLOAD_RELAY_BYTES).
	DefaultUploadRelayBytes = 24 << 20
	// bodyBufferSize is the read buffer of the multipart body.
	bodyBufferSize = 256 << 10
	// abortTimeout bounds the clean-up after a failed relay.
	abortTimeout = 10 * time.Second
)

// uploadMultipart answers POST /file/upload with a multipart body: the
// "file" part is streamed to object storage and committed; 201 with the
// file. The size limit and the quota are enforced while streaming (413,
// and nothing is left behind); object storage down is 503, with no
// document.
func (a *API) uploadMultipart(w http.ResponseWriter, r *http.Request) {
	mr, err := bodyParts(r)
	if err != nil {
		a.reject(w, rpcerr.New(rpcerr.BadRequest, "malformed multipart body"))
		return
	}
	part, rerr := filePart(mr)
	if rerr != nil {
		a.reject(w, rerr)
		return
	}
	defer part.Close()
	name := part.FileName()
	if name == "" || name == "." || name == "/" {
		a.reject(w, rpcerr.Field(rpcerr.Validation, "file", "the file part needs a file name"))
		return
	}
	fileType := partContentType(part.Header.Get("Content-Type"), name)

	ctx, cancel := a.callCtx(r)
	grant, err := a.files.MultipartStart(ctx, fv1.MultipartStartRequest{FileName: name, FileType: fileType})
	cancel()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	file, err := a.relayAndCommit(r, grant, part, name, fileType)
	if err != nil {
		a.abortUpload(r, grant)
		a.fail(w, r, err)
		return
	}
	writeOK(w, a.log, http.StatusCreated, "file uploaded", file)
}

// bodyParts reads the multipart body through a read buffer of
// bodyBufferSize. multipart.Reader otherwise buffers 4 KiB: every read of
// the file part then returns at most 4 KiB, each with its own boundary
// scan and socket read, which made the relay's copy loop, not the
// network, the limit.
func bodyParts(r *http.Request) (*multipart.Reader, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != mediaMultipart || params["boundary"] == "" {
		return nil, errors.New("not a multipart body")
	}
	return multipart.NewReader(bufio.NewReaderSize(r.Body, bodyBufferSize), params["boundary"]), nil
}

// filePart skips (bounded) form fields up to the part named "file".
func filePart(mr *multipart.Reader) (*multipart.Part, *rpcerr.Error) {
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, rpcerr.Field(rpcerr.Validation, "file", "a file part named \"file\" is required")
		}
		if err != nil {
			return nil, rpcerr.New(rpcerr.BadRequest, "malformed multipart body")
		}
		if part.FormName() == "file" {
			return part, nil
		}
		n, err := io.Copy(io.Discard, io.LimitReader(part, maxFieldBytes+1))
		part.Close()
		if err != nil {
			return nil, rpcerr.New(rpcerr.BadRequest, "malformed multipart body")
		}
		if n > maxFieldBytes {
			return nil, rpcerr.Field(rpcerr.TooLarge, part.FormName(), "form field too large")
		}
	}
}

// partContentType is the part's declared type, or the one its extension
// suggests when the client sent none or the catch-all octet-stream.
func partContentType(declared, name string) string {
	const octet = "application/octet-stream"
	if mt, _, err := mime.ParseMediaType(declared); err == nil && mt != octet {
		return mt
	}
	if guessed := mime.TypeByExtension(strings.ToLower(path.Ext(name))); guessed != "" {
		if mt, _, err := mime.ParseMediaType(guessed); err == nil {
			return mt
		}
	}
	return octet
}

// relayAndCommit streams the part into the granted upload, assembles it
// and commits it.
func (a *API) relayAndCommit(r *http.Request, grant fv1.MultipartStartReply, src io.Reader, name, fileType string) (fv1.File, error) {
	parts, size, err := a.relayParts(r, grant, src)
	if err != nil {
		return fv1.File{}, err
	}
	ctx, cancel := a.callCtx(r)
	defer cancel()
	if _, err := a.files.MultipartComplete(ctx, fv1.MultipartCompleteRequest{
		ObjectName: grant.ObjectName, UploadID: grant.UploadID, Parts: parts,
	}); err != nil {
		return fv1.File{}, err
	}
	return a.files.Commit(ctx, fv1.CommitRequest{ObjectName: grant.ObjectName, FileName: name, FileSize: size, FileType: fileType})
}

// partUpload is one part's PUT running in the background.
type partUpload struct {
	done chan struct{}
	part fv1.UploadedPart
	err  error
}

// relayBuffers is how many part buffers a relay holds: as many parts as
// a.relayBytes allows, at least two. One is filled from the client while
// the others are PUT: parts are small enough (8 MiB from fileingest) that
// one PUT at a time left the relay waiting on each part's round trip.
func (a *API) relayBuffers(partSize int64) int {
	return int(max(2, a.relayBytes/partSize))
}

// relayParts reads src in parts of grant.PartSize and PUTs each to its
// presigned URL. Reading the next part from the client overlaps the PUTs
// of the previous ones, up to a.relayBuffers(grant.PartSize) buffers in all.
// All reads of the request body stay on this goroutine.
func (a *API) relayParts(r *http.Request, grant fv1.MultipartStartReply, src io.Reader) ([]fv1.UploadedPart, int64, error) {
	if grant.PartSize < minPartSize || grant.PartSize > maxPartSize {
		return nil, 0, fmt.Errorf("upload grant has part size %d, outside [%d, %d]", grant.PartSize, minPartSize, maxPartSize)
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	// One byte past the limit is enough to know it was passed.
	limited := io.LimitReader(src, grant.MaxSize+1)
	buffers := make([][]byte, a.relayBuffers(grant.PartSize))
	urls := &partURLs{a: a, r: r, grant: grant}

	var (
		parts    []fv1.UploadedPart
		total    int64
		inflight []*partUpload // in part order
	)
	// waitOldest collects the oldest part in flight.
	waitOldest := func() error {
		up := inflight[0]
		<-up.done
		inflight = inflight[1:]
		if up.err != nil {
			return up.err
		}
		parts = append(parts, up.part)
		return nil
	}
	// On every early return the PUTs in flight are awaited (their buffers
	// must not outlive the handler) and only then cancelled. Cancelling
	// them first would leave the storage server finishing a part after
	// the caller's abort, which recreates the upload the abort just
	// removed (S3 documents the same race). When the client is gone, ctx
	// is already cancelled and the wait is short.
	defer func() {
		for _, up := range inflight {
			<-up.done
		}
		cancel()
	}()

	for number := 1; ; number++ {
		// Part number reuses the buffer of part number-len(buffers): at
		// most len(buffers)-1 parts stay in flight while it is filled.
		for len(inflight) >= len(buffers) {
			if err := waitOldest(); err != nil {
				return nil, 0, err
			}
		}
		slot := number % len(buffers)
		if buffers[slot] == nil {
			buffers[slot] = make([]byte, grant.PartSize)
		}
		buf := buffers[slot]
		n, err := io.ReadFull(limited, buf)
		total += int64(n)
		last := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		switch {
		case total > grant.MaxSize:
			return nil, 0, rpcerr.Field(rpcerr.TooLarge, "file", "file is larger than "+humanBytes(grant.MaxSize)+" (size limit or remaining quota)")
		case err != nil && !last:
			return nil, 0, readError(r, err)
		case n == 0 && number == 1:
			return nil, 0, rpcerr.Field(rpcerr.Validation, "file", "the file is empty")
		}
		if n > 0 {
			url, err := urls.url(number)
			if err != nil {
				return nil, 0, err
			}
			up := &partUpload{done: make(chan struct{})}
			inflight = append(inflight, up)
			go a.putPart(ctx, up, url, number, buf[:n])
		}
		if last {
			break
		}
	}
	for len(inflight) > 0 {
		if err := waitOldest(); err != nil {
			return nil, 0, err
		}
	}
	return parts, total, nil
}

// readError classifies a failure to read the client's body.
func readError(r *http.Request, err error) error {
	if r.Context().Err() != nil {
		// The client went away; a.fail stays quiet about it.
		return fmt.Errorf("read upload: %w", r.Context().Err())
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return rpcerr.Field(rpcerr.TooLarge, "file", "request body too large")
	}
	return fmt.Errorf("read upload: %w: %w", rpcerr.New(rpcerr.BadRequest, "the upload was cut off or is not valid multipart"), err)
}

// putPart PUTs one part to its presigned URL and records its ETag.
func (a *API) putPart(ctx context.Context, up *partUpload, url string, number int, data []byte) {
	defer close(up.done)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(data))
	if err != nil {
		up.err = fmt.Errorf("part %d: %w", number, err)
		return
	}
	req.ContentLength = int64(len(data))
	resp, err := a.httpClient.Do(req)
	if err != nil {
		up.err = storageUnavailable(fmt.Errorf("put part %d: %w", number, err))
		return
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		up.err = storageUnavailable(fmt.Errorf("put part %d: object storage answered %s", number, resp.Status))
		return
	}
	up.part = fv1.UploadedPart{PartNumber: number, ETag: resp.Header.Get("ETag")}
}

// storageUnavailable is a 503 whose cause stays in the log.
func storageUnavailable(cause error) error {
	return fmt.Errorf("%w: %w", rpcerr.New(rpcerr.Unavailable, "object storage unavailable"), cause)
}

// partURLs hands out presigned part URLs, asking fileingest for a batch
// whenever the last one is used up.
type partURLs struct {
	a     *API
	r     *http.Request
	grant fv1.MultipartStartReply
	first int
	urls  []string
}

func (p *partURLs) url(number int) (string, error) {
	if i := number - p.first; p.urls != nil && i >= 0 && i < len(p.urls) {
		return p.urls[i], nil
	}
	ctx, cancel := p.a.callCtx(p.r)
	defer cancel()
	reply, err := p.a.files.MultipartPartURLs(ctx, fv1.MultipartPartURLsRequest{
		ObjectName: p.grant.ObjectName, UploadID: p.grant.UploadID, FirstPart: number, Count: partURLBatch,
	})
	if err != nil {
		return "", err
	}
	if len(reply.URLs) == 0 {
		return "", fmt.Errorf("no URL for part %d", number)
	}
	p.first, p.urls = number, reply.URLs
	return p.urls[0], nil
}

// abortUpload drops the unfinished upload and anything already stored, on
// a context of its own: the client may be gone, the clean-up must happen.
func (a *API) abortUpload(r *http.Request, grant fv1.MultipartStartReply) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), abortTimeout)
	defer cancel()
	if _, err := a.files.AbortUpload(ctx, fv1.AbortUploadRequest{ObjectName: grant.ObjectName, UploadID: grant.UploadID}); err != nil {
		a.log.WarnContext(ctx, "abort upload", "object", grant.ObjectName, "err", err)
	}
}

// humanBytes prints a byte count for messages: 5 GiB, 40 B.
func humanBytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	v, i := float64(n), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	s := fmt.Sprintf("%.1f", v)
	return strings.TrimSuffix(s, ".0") + " " + units[i]
}
