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

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// ErrTooLarge is a source file over the service's size cap.
var ErrTooLarge = errors.New("file is larger than the conversion limit")

// decoderFor returns the decoder that turns a file in the named encoding
// into UTF-8, nil when it already is UTF-8, or an error for an encoding the
// service cannot read. Names follow the file preview (Python codec names)
// with the usual aliases.
func decoderFor(name string) (*encoding.Decoder, error) {
	switch strings.ReplaceAll(strings.ToLower(strings.TrimSpace(name)), "_", "-") {
	case "", "utf-8", "utf8", "utf-8-sig", "ascii", "us-ascii":
		return nil, nil
	case "utf-16", "utf16":
		// A BOM decides; without one, little-endian (Windows' default).
		return unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewDecoder(), nil
	case "utf-16le":
		return unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewDecoder(), nil
	case "utf-16be":
		return unicode.UTF16(unicode.BigEndian, unicode.UseBOM).NewDecoder(), nil
	case "windows-1252", "cp1252":
		return charmap.Windows1252.NewDecoder(), nil
	case "latin-1", "latin1", "iso-8859-1", "iso8859-1":
		return charmap.ISO8859_1.NewDecoder(), nil
	}
	return nil, &ValidationError{Field: "encoding", Message: "unsupported encoding " + name +
		" (utf-8, utf-16, utf-16le, utf-16be, windows-1252, latin-1)"}
}

// fetch streams the object behind a presigned GET into path, decoding it to
// UTF-8 on the way when dec is set, and stops with ErrTooLarge past limit
// bytes written. Errors never carry the URL (its query is a credential).
func fetch(ctx context.Context, client *http.Client, rawURL, path string, dec *encoding.Decoder, limit int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return errors.New("download file: invalid URL")
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
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download file: object storage answered %s", resp.Status)
	}
	var body io.Reader = resp.Body
	if dec != nil {
		body = transform.NewReader(body, dec)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("create temp file: %w", err)
	}
	n, err := io.Copy(f, io.LimitReader(body, limit+1))
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
