package natsapi

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/services/fileingest/internal/files"
)

// A list is answered page by page, each page as many files as fit in one
// NATS message: an unpaged list of a user's files would otherwise grow past
// the payload limit, and a reply that cannot be sent leaves the caller
// waiting for its deadline. The gateway follows the pages.

// pageFiles is how many files one page reads from the store: without their
// previews files are under 2 KiB of JSON each, so with the default 1 MiB
// payload a page is usually full by count before it is by bytes.
const pageFiles = 500

// listPage answers one page of a list: read one file more than a page
// holds, to know whether another page follows, and keep as many as fit.
func (a api) listPage(ctx context.Context, req filev1.ListRequest, read func(context.Context, string, files.Page) ([]files.File, error)) (filev1.ListReply, error) {
	after, err := parseCursor(req.Cursor)
	if err != nil {
		return filev1.ListReply{}, err
	}
	fs, err := read(ctx, natsx.UserID(ctx), files.Page{After: after, Limit: pageFiles + 1})
	if err != nil {
		return filev1.ListReply{}, mapError(err)
	}
	more := len(fs) > pageFiles
	if more {
		fs = fs[:pageFiles]
	}
	items, cut, err := a.fit(fs)
	if err != nil {
		return filev1.ListReply{}, err
	}
	reply := filev1.ListReply{Files: items}
	if (more || cut) && len(items) > 0 {
		reply.Next = formatCursor(files.PositionOf(fs[len(items)-1]))
	}
	return reply, nil
}

// fit converts the files that fit in one reply, in order, and says
// whether it had to leave some out. It keeps at least one, so a list
// always advances.
func (a api) fit(fs []files.File) ([]filev1.File, bool, error) {
	out := make([]filev1.File, 0, len(fs))
	used := 0
	for _, f := range fs {
		item := fromCoreFile(f)
		b, err := json.Marshal(item)
		if err != nil {
			return nil, false, fmt.Errorf("encode file %s: %w", f.ID, err)
		}
		if len(out) > 0 && used+len(b)+1 > a.replyBytes {
			return out, true, nil
		}
		used += len(b) + 1
		out = append(out, item)
	}
	return out, false, nil
}

// A cursor is the position of the last file of a page: its creation time
// in Unix milliseconds (what MongoDB keeps) and its id, "1741944413000.<id>".
func formatCursor(p *files.Position) string {
	return strconv.FormatInt(p.CreatedAt.UnixMilli(), 10) + "." + p.ID
}

func parseCursor(s string) (*files.Position, error) {
	if s == "" {
		return nil, nil
	}
	ms, id, ok := strings.Cut(s, ".")
	n, err := strconv.ParseInt(ms, 10, 64)
	if _, herr := hex.DecodeString(id); !ok || err != nil || herr != nil || len(id) != 24 {
		return nil, rpcerr.Field(rpcerr.Validation, "cursor", "is not a cursor of this list")
	}
	return &files.Position{CreatedAt: time.UnixMilli(n).UTC(), ID: id}, nil
}
