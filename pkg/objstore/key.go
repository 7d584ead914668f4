package objstore

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxKeyLen is S3's limit on object key length, in bytes.
const maxKeyLen = 1024

// checkKey accepts keys that name exactly one object: relative, no ".", ".."
// or empty segments (filesystem-backed servers such as Versity's posix
// backend would resolve them to another path), valid UTF-8, no control
// characters, at most 1024 bytes.
func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	return checkPath(key, false)
}

// checkPrefix is checkKey for listing prefixes: empty is allowed, and so is
// a trailing "/" (and a partial last segment).
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return checkPath(prefix, true)
}

func checkPath(p string, isPrefix bool) error {
	if len(p) > maxKeyLen {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidKey, maxKeyLen)
	}
	if !utf8.ValidString(p) {
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidKey)
	}
	if strings.HasPrefix(p, "/") {
		return fmt.Errorf("%w: %q starts with /", ErrInvalidKey, p)
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: %q contains a control character", ErrInvalidKey, p)
		}
	}
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		last := i == len(segs)-1
		switch {
		case seg == "." || seg == "..":
			return fmt.Errorf("%w: %q has a %q segment", ErrInvalidKey, p, seg)
		case seg == "" && !(last && isPrefix):
			return fmt.Errorf("%w: %q has an empty segment", ErrInvalidKey, p)
		}
	}
	return nil
}
