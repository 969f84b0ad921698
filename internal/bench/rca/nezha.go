package rca

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// NezhaDay is one fault-injection day of a Nezha-layout folder:
// <root>/rca_data/<day>/{metric,log,trace}/..., the fault list, and the
// fault-free reference phase <root>/construct_data/<day>/.
type NezhaDay struct {
	// System is the folder holding rca_data (relative to the data folder;
	// "." for the folder itself), Day the date.
	System, Day string
	// RCADir and RefDir are rca_data/<day> and construct_data/<day>
	// (RefDir is "" when absent).
	RCADir, RefDir string
	Faults         []Fault
}

// Fault is one injected fault.
type Fault struct {
	// Time is inject_time read as UTC (the clock of the metrics, logs and
	// traces); Timestamp is inject_timestamp as written, the case id.
	Time      time.Time
	Timestamp string
	Pod       string
	// Service is the deployment of Pod, the root-cause service.
	Service string
	Type    string
}

// FindNezha finds every day under dir: each rca_data/<day>/<day>-fault_list.json,
// at any depth, so a folder may hold several systems and days.
func FindNezha(dir string) ([]NezhaDay, error) {
	var days []NezhaDay
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), "-fault_list.json") {
			return nil
		}
		dayDir := filepath.Dir(path)
		day := filepath.Base(dayDir)
		if d.Name() != day+"-fault_list.json" || filepath.Base(filepath.Dir(dayDir)) != "rca_data" {
			return nil
		}
		root := filepath.Dir(filepath.Dir(dayDir))
		sys, _ := filepath.Rel(dir, root)
		nd := NezhaDay{System: sys, Day: day, RCADir: dayDir}
		if ref := filepath.Join(root, "construct_data", day); isDir(ref) {
			nd.RefDir = ref
		}
		faults, err := loadFaults(path)
		if err != nil {
			return err
		}
		nd.Faults = faults
		days = append(days, nd)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(days) == 0 {
		return nil, fmt.Errorf("no rca_data/<day>/<day>-fault_list.json under %s", dir)
	}
	slices.SortFunc(days, func(a, b NezhaDay) int {
		return strings.Compare(a.System+"/"+a.Day, b.System+"/"+b.Day)
	})
	return days, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// loadFaults reads a fault list: {"<hour>": [{inject_time, inject_timestamp,
// inject_pod, inject_type}, ...], ...}, sorted by inject time.
func loadFaults(path string) ([]Fault, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw map[string][]struct {
		InjectTime      string `json:"inject_time"`
		InjectTimestamp any    `json:"inject_timestamp"`
		InjectPod       string `json:"inject_pod"`
		InjectType      string `json:"inject_type"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("fault list %s: %w", path, err)
	}
	var out []Fault
	for _, list := range raw {
		for _, f := range list {
			t, err := time.Parse(time.DateTime, f.InjectTime)
			if err != nil {
				return nil, fmt.Errorf("fault list %s: inject_time %q: %w", path, f.InjectTime, err)
			}
			out = append(out, Fault{
				Time: t, Timestamp: fmt.Sprint(f.InjectTimestamp), Pod: f.InjectPod,
				Service: Deployment(f.InjectPod), Type: f.InjectType,
			})
		}
	}
	slices.SortFunc(out, func(a, b Fault) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Pod, b.Pod)
	})
	return out, nil
}

// Deployment returns the Kubernetes deployment of a pod name: the name
// without its replica-set hash and pod suffix
// (ts-contacts-service-866bd68c97-xcqfx → ts-contacts-service). Names that
// do not look like deployment pods come back unchanged.
func Deployment(pod string) string {
	i := strings.LastIndexByte(pod, '-')
	if i <= 0 || !isAlnumLower(pod[i+1:]) || len(pod)-i-1 != 5 {
		return pod
	}
	j := strings.LastIndexByte(pod[:i], '-')
	if j <= 0 {
		return pod[:i]
	}
	if h := pod[j+1 : i]; len(h) >= 8 && len(h) <= 10 && isAlnumLower(h) {
		return pod[:j]
	}
	return pod[:i]
}

func isAlnumLower(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// csvFiles lists dir's *.csv files matching suffix, sorted; a missing
// folder is an empty list (a missing modality degrades, it does not fail).
func csvFiles(dir, suffix string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasSuffix(e.Name(), suffix) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	slices.Sort(out)
	return out
}

// readCSV calls fn with the header index and each record of path. A
// malformed record is skipped and counted.
func readCSV(path string, fn func(col map[string]int, rec []string)) (bad int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return 0, nil
		}
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.TrimPrefix(h, "\ufeff")] = i
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return bad, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				bad++
				continue
			}
			return bad, fmt.Errorf("%s: %w", path, err)
		}
		if len(rec) < len(head) {
			bad++
			continue
		}
		fn(col, rec)
	}
}

func parseNanos(s string) (time.Time, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, n).UTC(), true
}
