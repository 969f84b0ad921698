package nab

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Profile is one of NAB's application profiles: the weights of its cost
// matrix.
type Profile struct {
	// Name is the key in config/profiles.json, e.g. "standard".
	Name     string
	TPWeight float64
	FPWeight float64
	FNWeight float64
}

// ProfileNames lists NAB's three profiles in the order they are reported.
var ProfileNames = []string{"standard", "reward_low_FP_rate", "reward_low_FN_rate"}

// Window is a labelled anomaly window, inclusive at both ends.
type Window struct {
	Start, End time.Time
}

// Corpus is a NAB-layout folder: DIR/data/<category>/<file>.csv,
// DIR/labels/combined_windows.json and DIR/config/profiles.json.
type Corpus struct {
	// Dir is the corpus root.
	Dir string
	// Files are the data files as "<category>/<file>.csv", sorted.
	Files []string
	// Windows maps each file to its anomaly windows (possibly none).
	Windows map[string][]Window
	// Profiles are the profiles of config/profiles.json in ProfileNames order.
	Profiles []Profile
}

// LoadCorpus reads the file list, the windows and the profiles of the corpus
// at dir. Every data file must have an entry in the windows file.
func LoadCorpus(dir string) (*Corpus, error) {
	c := &Corpus{Dir: dir}
	files, err := filepath.Glob(filepath.Join(dir, "data", "*", "*.csv"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no data files under %s", filepath.Join(dir, "data"))
	}
	for _, f := range files {
		rel, err := filepath.Rel(filepath.Join(dir, "data"), f)
		if err != nil {
			return nil, err
		}
		c.Files = append(c.Files, filepath.ToSlash(rel))
	}
	slices.Sort(c.Files)

	raw := map[string][][2]string{}
	if err := readJSON(filepath.Join(dir, "labels", "combined_windows.json"), &raw); err != nil {
		return nil, err
	}
	c.Windows = make(map[string][]Window, len(c.Files))
	for _, f := range c.Files {
		ws, ok := raw[f]
		if !ok {
			return nil, fmt.Errorf("labels: no windows entry for %s", f)
		}
		for _, w := range ws {
			start, err := ParseTime(w[0])
			if err != nil {
				return nil, fmt.Errorf("labels: %s: %w", f, err)
			}
			end, err := ParseTime(w[1])
			if err != nil {
				return nil, fmt.Errorf("labels: %s: %w", f, err)
			}
			c.Windows[f] = append(c.Windows[f], Window{Start: start, End: end})
		}
	}

	profiles := map[string]struct {
		CostMatrix struct {
			TP float64 `json:"tpWeight"`
			FP float64 `json:"fpWeight"`
			FN float64 `json:"fnWeight"`
		}
	}{}
	if err := readJSON(filepath.Join(dir, "config", "profiles.json"), &profiles); err != nil {
		return nil, err
	}
	for _, name := range ProfileNames {
		p, ok := profiles[name]
		if !ok {
			return nil, fmt.Errorf("profiles: no profile %q", name)
		}
		c.Profiles = append(c.Profiles, Profile{Name: name, TPWeight: p.CostMatrix.TP, FPWeight: p.CostMatrix.FP, FNWeight: p.CostMatrix.FN})
	}
	return c, nil
}

// DataPath returns the path of the data file rel ("<category>/<file>.csv").
func (c *Corpus) DataPath(rel string) string {
	return filepath.Join(c.Dir, "data", filepath.FromSlash(rel))
}

// LoadThresholds reads NAB's config/thresholds.json: detector → profile →
// threshold.
func LoadThresholds(path string) (map[string]map[string]float64, error) {
	raw := map[string]map[string]struct {
		Threshold float64 `json:"threshold"`
	}{}
	if err := readJSON(path, &raw); err != nil {
		return nil, err
	}
	out := make(map[string]map[string]float64, len(raw))
	for det, profiles := range raw {
		out[det] = make(map[string]float64, len(profiles))
		for p, v := range profiles {
			out[det][p] = v.Threshold
		}
	}
	return out, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// ParseTime parses a NAB timestamp, "2006-01-02 15:04:05" with optional
// fractional seconds, as UTC.
func ParseTime(s string) (time.Time, error) {
	return time.Parse(time.DateTime, strings.TrimSpace(s))
}

// Table is the rows of a NAB CSV file in file order: a timestamp column and
// one numeric column.
type Table struct {
	Times  []time.Time
	Values []float64
}

// ReadColumn reads the timestamp column and the numeric column named col of
// the CSV file at path, decompressing it when the name ends in ".gz". CRLF line
// ends and a missing final newline are accepted; rows keep file order.
func ReadColumn(path, col string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = bufio.NewReader(f)
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	t, err := parseTable(r, col)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

func parseTable(r io.Reader, col string) (*Table, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	ti, vi := -1, -1
	for i, h := range header {
		switch strings.TrimSpace(h) {
		case "timestamp":
			ti = i
		case col:
			vi = i
		}
	}
	if ti < 0 || vi < 0 {
		return nil, fmt.Errorf("header %q lacks timestamp or %s", header, col)
	}
	t := &Table{}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return t, nil
		}
		if err != nil {
			return nil, err
		}
		ts, err := ParseTime(rec[ti])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rec[vi]), 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		t.Times = append(t.Times, ts)
		t.Values = append(t.Values, v)
	}
}
