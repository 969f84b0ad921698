package filetail

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// fileID tells files apart: device and inode.
type fileID struct{ Dev, Ino uint64 }

// headBytes is how much of a file's start identifies it beside its inode
// (inodes are reused once a file is deleted).
const headBytes = 256

// headSum is the SHA-256 of the first Len bytes of a file.
type headSum struct {
	Len int
	Sum string
}

// sumHead hashes the first n bytes of f.
func sumHead(f *os.File, n int64) headSum {
	buf := make([]byte, n)
	m, _ := f.ReadAt(buf, 0)
	h := sha256.Sum256(buf[:m])
	return headSum{Len: m, Sum: hex.EncodeToString(h[:])}
}

// headMatches reports whether f starts with the bytes h was taken of.
func headMatches(f *os.File, h headSum) bool {
	if h.Len == 0 {
		return true
	}
	got := sumHead(f, int64(h.Len))
	return got == h
}

// findByID opens the regular file of dir whose identity is id.
func findByID(dir string, id fileID) (*os.File, os.FileInfo, bool) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, false
	}
	for _, de := range ents {
		if !de.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, de.Name())
		fi, err := os.Stat(p)
		if err != nil || idOf(fi) != id {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, nil, false
		}
		return f, fi, true
	}
	return nil, nil, false
}

// entry is the saved position of one file.
type entry struct {
	Path       string `json:"path"`
	Dev        uint64 `json:"dev"`
	Ino        uint64 `json:"ino"`
	HeadLen    int    `json:"head_len"`
	HeadSHA256 string `json:"head_sha256"`
	Offset     int64  `json:"offset"`
}

// stateVersion is the format of the state file.
const stateVersion = 1

type stateDoc struct {
	Version int     `json:"version"`
	Files   []entry `json:"files"`
}

// stateFile holds the entries in memory and writes them atomically. It
// is used by the poll goroutine only.
type stateFile struct {
	path    string
	entries map[stateKey]entry
}

type stateKey struct {
	path string
	id   fileID
}

// load reads the state file; a missing file is an empty state.
func (s *stateFile) load() error {
	s.entries = make(map[stateKey]entry)
	data, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("filetail: read offsets: %w", err)
	}
	var doc stateDoc
	if err := json.Unmarshal(data, &doc); err != nil || doc.Version != stateVersion {
		return fmt.Errorf("filetail: offsets file %s is not version %d JSON (move it away to start afresh): %v", s.path, stateVersion, err)
	}
	for _, e := range doc.Files {
		s.entries[stateKey{e.Path, fileID{e.Dev, e.Ino}}] = e
	}
	return nil
}

// match returns the saved entry of the file f (identity id) found at
// path: the entry of that path, or of another path with that identity,
// whose head matches.
func (s *stateFile) match(f *os.File, id fileID, path string) (entry, bool) {
	if e, ok := s.entries[stateKey{path, id}]; ok && headMatches(f, headSum{e.HeadLen, e.HeadSHA256}) {
		return e, true
	}
	for k, e := range s.entries {
		if k.id == id && headMatches(f, headSum{e.HeadLen, e.HeadSHA256}) {
			return e, true
		}
	}
	return entry{}, false
}

// orphans returns the entries whose path names another file, or none.
func (s *stateFile) orphans() []entry {
	var out []entry
	for k, e := range s.entries {
		fi, err := os.Stat(k.path)
		if err == nil && idOf(fi) == k.id {
			continue
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// put records e and writes the state file.
func (s *stateFile) put(e entry) error {
	s.entries[stateKey{e.Path, fileID{e.Dev, e.Ino}}] = e
	return s.save()
}

// remove forgets the entry of path and id (written at the next save).
func (s *stateFile) remove(path string, id fileID) {
	delete(s.entries, stateKey{path, id})
}

// save writes the state atomically: a temporary file, fsync, rename.
func (s *stateFile) save() error {
	doc := stateDoc{Version: stateVersion, Files: make([]entry, 0, len(s.entries))}
	for _, e := range s.entries {
		doc.Files = append(doc.Files, e)
	}
	sort.Slice(doc.Files, func(i, j int) bool { return doc.Files[i].Path < doc.Files[j].Path })
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o750); err != nil {
		return fmt.Errorf("filetail: save offsets: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".offsets-*")
	if err != nil {
		return fmt.Errorf("filetail: save offsets: %w", err)
	}
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), s.path)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("filetail: save offsets: %w", werr)
	}
	return syncDir(filepath.Dir(s.path))
}

// syncDir fsyncs dir, so that a rename in it survives a power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("filetail: save offsets: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("filetail: save offsets: sync %s: %w", dir, err)
	}
	return nil
}
