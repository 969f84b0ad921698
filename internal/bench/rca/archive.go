package rca

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// archiveSuffixes are the corpus archives Unpack extracts.
var archiveSuffixes = []string{".tar.xz", ".txz", ".tar.gz", ".tgz", ".tar.zst", ".tar"}

// Archives lists the corpus archives directly in dir (the shared data
// folders ship their corpora as tarballs), sorted.
func Archives(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		for _, suf := range archiveSuffixes {
			if strings.HasSuffix(e.Name(), suf) {
				out = append(out, filepath.Join(dir, e.Name()))
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// Unpack extracts every archive of dir into a new temporary folder with the
// system's tar (which detects the compression) and returns the folder and a
// function that removes it. Each archive gets a subfolder of its own, so
// several days or systems do not overwrite each other.
func Unpack(ctx context.Context, dir string) (string, func(), error) {
	archives := Archives(dir)
	if len(archives) == 0 {
		return "", func() {}, fmt.Errorf("no corpus archive in %s", dir)
	}
	if _, err := exec.LookPath("tar"); err != nil {
		return "", func() {}, fmt.Errorf("unpack %s: %w (unpack it yourself and pass the folder)", dir, err)
	}
	tmp, err := os.MkdirTemp("", "osprey-bench-rca-")
	if err != nil {
		return "", func() {}, fmt.Errorf("unpack %s: %w", dir, err)
	}
	cleanup := func() { _ = os.RemoveAll(tmp) }
	for i, a := range archives {
		sub := filepath.Join(tmp, archiveName(a, i))
		if err := os.Mkdir(sub, 0o755); err != nil {
			cleanup()
			return "", func() {}, fmt.Errorf("unpack %s: %w", a, err)
		}
		out, err := exec.CommandContext(ctx, "tar", "-xf", a, "-C", sub).CombinedOutput()
		if err != nil {
			cleanup()
			return "", func() {}, fmt.Errorf("unpack %s: %w: %s", a, err, strings.TrimSpace(string(out)))
		}
	}
	return tmp, cleanup, nil
}

// archiveName names the folder of the i-th archive after the archive (the
// system and day show in the bench's summary lines).
func archiveName(path string, i int) string {
	base := filepath.Base(path)
	for _, suf := range archiveSuffixes {
		if name, ok := strings.CutSuffix(base, suf); ok && name != "" {
			return name
		}
	}
	return fmt.Sprintf("archive-%02d", i)
}
