package datasets

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// ErrTooLarge is a source file over the service's size cap.
var ErrTooLarge = errors.New("file is larger than the conversion limit")

// ChangedFileMessage is why a file whose stored object was replaced after
// its commit (through its still valid upload URL) cannot be converted:
// only the committed version, which processing checked, is read.
const ChangedFileMessage = "the stored file changed after it was uploaded; upload it again"

// fetch streams the file's object from its presigned GET into path, and
// through scan when it is set (the encoding scan reads every byte on the
// way), and stops with ErrTooLarge past limit bytes. With the file's ETag
// the GET asks for that version only (If-Match); another one is a
// field error of file_id (ErrInvalid). Errors never carry the URL (its query is a credential).
func fetch(ctx context.Context, client *http.Client, src SourceFile, path string, scan io.Writer, limit int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.URL, nil)
	if err != nil {
		return errors.New("download file: invalid URL")
	}
	if src.ETag != "" {
		req.Header.Set("If-Match", `"`+strings.Trim(src.ETag, `"`)+`"`)
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("download file: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusPreconditionFailed {
		return invalid("file_id", ChangedFileMessage)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download file: object storage answered %s", resp.Status)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("create temp file: %w", err)
	}
	var dst io.Writer = f
	if scan != nil {
		dst = io.MultiWriter(f, scan)
	}
	n, err := io.Copy(dst, io.LimitReader(resp.Body, limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("download file: %w", err)
	}
	if n > limit {
		return fmt.Errorf("%w (%d bytes)", ErrTooLarge, limit)
	}
	return nil
}
