package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/osprey-aiops/osprey"
)

// errNoAPI is apiGet's error when the UI was not mounted in front of the
// API.
var errNoAPI = errors.New("the UI is not mounted in front of the API")

// apiGet reads path from the JSON API in process, with the credentials of
// the page request r (its bearer header and session cookie), and decodes
// the 200 reply into out. The API does its own authorization, so a page
// shows nothing the same person could not read from the API.
func (u *UI) apiGet(r *http.Request, path string, out any) error {
	if u.api == nil {
		return errNoAPI
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, path, nil)
	if err != nil {
		return fmt.Errorf("ui: read %s: %w", path, err)
	}
	req.RemoteAddr, req.Host = r.RemoteAddr, r.Host
	for _, h := range []string{"Authorization", "Cookie"} {
		if v := r.Header.Values(h); len(v) > 0 {
			req.Header[h] = v
		}
	}
	rec := &recorder{header: http.Header{}, code: http.StatusOK}
	u.api.ServeHTTP(rec, req)
	if rec.code != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(rec.body.Bytes(), &e)
		return fmt.Errorf("ui: read %s: HTTP %d %s", path, rec.code, e.Error)
	}
	if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
		return fmt.Errorf("ui: read %s: %w", path, err)
	}
	return nil
}

// recorder is the http.ResponseWriter apiGet hands the API.
type recorder struct {
	header http.Header
	code   int
	wrote  bool
	body   bytes.Buffer
}

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) WriteHeader(code int) {
	if !rec.wrote {
		rec.code, rec.wrote = code, true
	}
}

func (rec *recorder) Write(p []byte) (int, error) {
	rec.wrote = true
	return rec.body.Write(p)
}

// fmtSeconds formats a mean duration given in seconds ("—" for none).
func fmtSeconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d <= 0:
		return "—"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min"
	case d < 48*time.Hour:
		return strconv.FormatFloat(d.Hours(), 'f', 1, 64) + " h"
	}
	return strconv.FormatFloat(d.Hours()/24, 'f', 1, 64) + " d"
}

// noiseFigures are the signal counts of GET /api/v1/stats/noise.
type noiseFigures struct {
	Received, Deduplicated, Grouped, Opened      int64
	Suppressed, Silenced, Inhibited, Maintenance int64
	Ignored                                      int64
	CompressionRatio, Reduction                  float64
}

// noiseRow is one source's or rule's figures.
type noiseRow struct {
	Source, Rule string
	noiseFigures
}

// noiseStats is the reply of GET /api/v1/stats/noise, as the incidents
// page shows it.
type noiseStats struct {
	Totals    noiseFigures
	Sources   []noiseRow
	Rules     []noiseRow
	Incidents struct {
		Opened, Acknowledged, Resolved int
		MTTASeconds, MTTRSeconds       float64
		Truncated                      bool
	}
	Notifications struct {
		Sent, Failed, Sending int
		Truncated             bool
	}
}

// maxNoiseRows bounds the source and rule rows shown.
const maxNoiseRows = 10

// maintenanceRow is a maintenance window as GET /api/v1/maintenance
// returns it.
type maintenanceRow struct {
	osprey.MaintenanceWindow
	Source      string
	State       string
	ActiveUntil time.Time
}
