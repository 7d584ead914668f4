package objstore

import (
	"context"
	"iter"
)

// IncompleteUploadsPaged is IncompleteUploads with a page size small
// enough for a test to cross page boundaries.
func (s *Store) IncompleteUploadsPaged(ctx context.Context, prefix string, pageSize int) iter.Seq2[IncompleteUpload, error] {
	return s.incompleteUploads(ctx, prefix, pageSize)
}
