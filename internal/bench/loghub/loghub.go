// Package loghub is the evaluation harness for log template mining on the
// Loghub-2k corpus (a folder in Loghub layout: <Sys>/<Sys>_2k.log, the ground
// truth <Sys>/<Sys>_2k.log_structured[_corrected].csv and formats.json with the
// header format of each system). It runs the production header parser and
// miner over each system, with the same miner configuration for all, and
// scores the result with the Loghub-2.0 measures (GA, FGA, PA, FTA).
package loghub

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey/internal/logmine"
	"github.com/osprey-aiops/osprey/internal/logparse"
)

// System is one system's lines and ground truth.
type System struct {
	Name   string
	Format *logparse.Format
	// Lines are the raw log lines, without line ends.
	Lines []string
	// Truth is the true template of each line.
	Truth []string
}

// Load reads every system of the folder dir that formats.json names and that
// has its log and ground truth files, sorted by name. With original set it
// reads the original ground truth instead of the corrected one.
func Load(dir string, original bool) ([]System, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "formats.json"))
	if err != nil {
		return nil, fmt.Errorf("read formats: %w", err)
	}
	var formats map[string]string
	if err := json.Unmarshal(raw, &formats); err != nil {
		return nil, fmt.Errorf("decode formats.json: %w", err)
	}
	names := make([]string, 0, len(formats))
	for name := range formats {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []System
	for _, name := range names {
		logPath := filepath.Join(dir, name, name+"_2k.log")
		if _, err := os.Stat(logPath); err != nil {
			continue // held back or absent
		}
		sys, err := LoadSystem(dir, name, formats[name], original)
		if err != nil {
			return nil, err
		}
		out = append(out, sys)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("load %s: no system with a log file", dir)
	}
	return out, nil
}

// LoadSystem reads one system of the folder dir with the given header format.
func LoadSystem(dir, name, format string, original bool) (System, error) {
	f, err := logparse.Compile(format)
	if err != nil {
		return System{}, fmt.Errorf("system %s: %w", name, err)
	}
	lines, err := readLines(filepath.Join(dir, name, name+"_2k.log"))
	if err != nil {
		return System{}, fmt.Errorf("system %s: %w", name, err)
	}
	gt := filepath.Join(dir, name, name+"_2k.log_structured_corrected.csv")
	if original {
		gt = filepath.Join(dir, name, name+"_2k.log_structured.csv")
	}
	truth, err := readTruth(gt)
	if err != nil {
		return System{}, fmt.Errorf("system %s: %w", name, err)
	}
	if len(truth) != len(lines) {
		return System{}, fmt.Errorf("system %s: %d lines but %d ground truth rows", name, len(lines), len(truth))
	}
	return System{Name: name, Format: f, Lines: lines, Truth: truth}, nil
}

func readLines(path string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read log: %w", err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		lines = append(lines, strings.TrimSuffix(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read log %s: %w", path, err)
	}
	return lines, nil
}

func readTruth(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open ground truth: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("read ground truth header %s: %w", path, err)
	}
	col := -1
	for i, h := range header {
		if h == "EventTemplate" {
			col = i
		}
	}
	if col < 0 {
		return nil, fmt.Errorf("ground truth %s has no EventTemplate column", path)
	}
	var out []string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read ground truth %s: %w", path, err)
		}
		if col >= len(rec) {
			return nil, fmt.Errorf("ground truth %s: short row %d", path, len(out)+2)
		}
		out = append(out, rec[col])
	}
}

// Result is one system's outcome.
type Result struct {
	System string
	Scores Scores
	// Unmatched counts lines the header format did not match (mined whole).
	Unmatched int
	// Elapsed is the time spent parsing headers and mining.
	Elapsed time.Duration
	// Pred is the predicted template of each line.
	Pred []string
}

// Run parses and mines one system with a fresh miner of configuration cfg and
// scores the template each line ends up with (after all merges, as Drain's
// benchmark does). A system without a Format has its headers found by
// logparse.Detect, as osprey serve does when no format is configured; its
// Unmatched then counts the lines Detect saw no header in. progress, when not nil, is called every 256 lines.
func Run(sys System, cfg logmine.Config, progress func(n int)) Result {
	start := time.Now()
	m := logmine.NewMiner(sys.Name, cfg)
	index := make([]int, len(sys.Lines))
	var fields []string
	unmatched := 0
	var zero time.Time
	for i, line := range sys.Lines {
		var content string
		var ok bool
		if sys.Format != nil {
			content, fields, ok = sys.Format.Content(line, fields)
		} else {
			h := logparse.Detect(line)
			content, ok = h.Message, h.Layout != logparse.LayoutPlain
		}
		if !ok {
			unmatched++
		}
		index[i] = m.Add(zero, content).Index
		if progress != nil && i%256 == 255 {
			progress(256)
		}
	}
	elapsed := time.Since(start)
	if progress != nil {
		progress(len(sys.Lines) % 256)
	}
	pred := make([]string, len(index))
	for i, idx := range index {
		pred[i] = m.TemplateText(idx)
	}
	return Result{
		System:    sys.Name,
		Scores:    Score(pred, sys.Truth),
		Unmatched: unmatched,
		Elapsed:   elapsed,
		Pred:      pred,
	}
}
