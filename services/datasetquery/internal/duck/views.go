package duck

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nonefinity/backend/pkg/objstore"
	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
)

// syncViews makes every name the query refers to that is one of the user's
// ready datasets a view over the dataset's Parquet in the local cache
// (downloaded when the object's ETag differs from the cached copy), and
// drops views whose dataset is gone or renamed. Names that are no dataset
// are left alone: DuckDB reports them as unknown tables. With lookup, a
// name the session's catalog copy does not know makes it read the catalog
// again (a dataset newer than the copy).
func (m *Manager) syncViews(ctx context.Context, s *session, names []string, lookup bool, pre *prefetch) error {
	tables, err := m.tables(ctx, s, false, pre)
	if err != nil {
		return fmt.Errorf("list datasets: %w", err)
	}
	byName := tablesByName(tables)
	if lookup && !knowsAll(byName, names) {
		if tables, err = m.tables(ctx, s, true, nil); err != nil {
			return fmt.Errorf("list datasets: %w", err)
		}
		byName = tablesByName(tables)
	}

	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	// Every view whose dataset is gone or was renamed is dropped whether
	// or not the query names it: DuckDB's table-name extraction does not
	// see every reference (DESCRIBE, or a name a view already resolves),
	// and a stale view must never answer.
	// The same goes for a view whose dataset changed content (an insert or
	// a re-conversion, maybe on another instance): once a view exists,
	// DuckDB resolves the name through it and does not report it among
	// the query's tables, so the view is dropped here and the query that
	// names it recreates it from the catalog's current parts.
	for key, current := range s.views {
		t, ok := byName[key]
		if ok && current == strings.Join(partPaths(s.cacheDir, t), "\n") {
			continue
		}
		if err := s.exec(ctx, "DROP VIEW IF EXISTS "+sqlIdent(key)); err != nil {
			return err
		}
		delete(s.views, key)
	}
	for _, name := range names {
		key := strings.ToLower(lastIdentPart(name))
		t, ok := byName[key]
		current, hasView := s.views[key]
		if !ok || len(t.Parts) == 0 {
			if hasView {
				if err := s.exec(ctx, "DROP VIEW IF EXISTS "+sqlIdent(key)); err != nil {
					return err
				}
				delete(s.views, key)
			}
			continue
		}
		files, err := m.cacheParts(ctx, s.cacheDir, t)
		if err != nil {
			return err
		}
		want := strings.Join(files, "\n")
		if hasView && current == want {
			continue
		}
		quoted := make([]string, len(files))
		for i, f := range files {
			quoted[i] = sqlString(f)
		}
		stmt := fmt.Sprintf("CREATE OR REPLACE VIEW %s AS SELECT * FROM read_parquet([%s])",
			sqlIdent(key), strings.Join(quoted, ", "))
		if err := s.exec(ctx, stmt); err != nil {
			return err
		}
		s.views[key] = want
	}
	return nil
}

func tablesByName(tables []datasets.Table) map[string]datasets.Table {
	byName := make(map[string]datasets.Table, len(tables))
	for _, t := range tables {
		byName[strings.ToLower(t.Name)] = t
	}
	return byName
}

func knowsAll(byName map[string]datasets.Table, names []string) bool {
	for _, n := range names {
		if _, ok := byName[strings.ToLower(lastIdentPart(n))]; !ok {
			return false
		}
	}
	return true
}

// lastIdentPart strips a schema/catalog qualifier ("main.sales" → "sales").
func lastIdentPart(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// cacheParts returns local copies of the table's Parquet parts in the
// user's cache directory, fetching those whose ETag is not cached yet. A
// cached file is named after the object key and ETag, so a changed object
// is a different file; copies of older versions are removed, downloads in
// flight (of a concurrent caller) are not.
func (m *Manager) cacheParts(ctx context.Context, cacheDir string, t datasets.Table) ([]string, error) {
	dir := filepath.Join(cacheDir, safeName(t.DatasetID))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create cache directory: %w", err)
	}
	keep := map[string]bool{}
	files := partPaths(cacheDir, t)
	for i, p := range t.Parts {
		path := files[i]
		keep[filepath.Base(path)] = true
		if _, err := os.Stat(path); err == nil {
			continue
		}
		if err := m.download(ctx, p, path); err != nil {
			return nil, err
		}
	}
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			if keep[e.Name()] || strings.HasPrefix(e.Name(), downloadPrefix) && !staleDownload(e) {
				continue
			}
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return files, nil
}

// downloadPrefix names a part being downloaded; one older than an hour was
// left by a crash.
const downloadPrefix = ".download-"

func staleDownload(e os.DirEntry) bool {
	info, err := e.Info()
	return err == nil && time.Since(info.ModTime()) > time.Hour
}

// partPaths are where the table's parts are cached in the user's cache
// directory: named after each object's key and ETag, so a changed object
// is a different file.
func partPaths(cacheDir string, t datasets.Table) []string {
	dir := filepath.Join(cacheDir, safeName(t.DatasetID))
	files := make([]string, len(t.Parts))
	for i, p := range t.Parts {
		sum := sha256.Sum256([]byte(p.Key + "\x00" + p.ETag))
		files[i] = filepath.Join(dir, hex.EncodeToString(sum[:12])+".parquet")
	}
	return files
}

// download streams one object into path through a temporary file, so a
// half-written file is never taken for a cached copy. The version the
// catalog names is fetched in one request; if the object changed meanwhile
// (never for a ready dataset's part, whose key is written once) its
// current content is used, and the view follows the catalog next time.
func (m *Manager) download(ctx context.Context, p datasets.Part, path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), downloadPrefix+"*")
	if err != nil {
		return fmt.Errorf("create cache file: %w", err)
	}
	defer os.Remove(tmp.Name())
	err = m.copyObject(ctx, p, tmp)
	if errors.Is(err, objstore.ErrChanged) {
		if err = tmp.Truncate(0); err == nil {
			_, err = tmp.Seek(0, io.SeekStart)
		}
		if err == nil {
			body, _, gerr := m.objects.Get(ctx, p.Key)
			if err = gerr; err == nil {
				_, err = io.Copy(tmp, body)
				_ = body.Close()
			}
		}
	}
	if err != nil {
		_ = tmp.Close()
		return fmt.Errorf("fetch dataset part: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write cache file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("store cache file: %w", err)
	}
	return nil
}

// copyObject copies the catalog's version of a part into w.
func (m *Manager) copyObject(ctx context.Context, p datasets.Part, w io.Writer) error {
	if p.ETag == "" {
		body, _, err := m.objects.Get(ctx, p.Key)
		if err != nil {
			return err
		}
		defer body.Close()
		_, err = io.Copy(w, body)
		return err
	}
	body, err := m.objects.GetVersion(ctx, p.Key, p.ETag)
	if err != nil {
		return err
	}
	defer body.Close()
	_, err = io.Copy(w, body)
	return err
}

// safeName keeps an id usable as one path segment.
func safeName(id string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, id)
}

// exec runs a maintenance statement (views) on the session's database.
func (s *session) exec(ctx context.Context, stmt string) error {
	if _, err := s.db.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("maintain views: %w", err)
	}
	return nil
}
