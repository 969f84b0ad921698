package ingest

import (
	"net/http"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Reason says why a receiver rejected an item or a request. The values are
// the reason label of osprey_ingest_rejected_total and the keys of the
// "rejected" object of GET /api/v1/status/ingest.
type Reason string

// Rejection reasons. The first group is counted once per rejected item; the
// second once per request refused as a whole, before its items could be told
// apart (malformed is both: a syntax error rejects the request, a wrongly
// typed field one item).
const (
	ReasonMalformed  Reason = "malformed"   // not the format's JSON shape
	ReasonInvalid    Reason = "invalid"     // decodes, but fails validation
	ReasonLabelLimit Reason = "label_limit" // too many labels or annotations, a name or value too long
	ReasonStore      Reason = "store_error" // the store refused the batch; nothing of it was kept

	// Metric samples (Prometheus remote_write), one count per sample, as
	// the Prometheus TSDB classifies them.
	ReasonOutOfOrder     Reason = "out_of_order"      // older than the series' latest sample
	ReasonDuplicate      Reason = "duplicate"         // the series' latest timestamp again, with another value
	ReasonTooOld         Reason = "too_old"           // older than the time range the TSDB still appends to
	ReasonTooFarInFuture Reason = "too_far_in_future" // later than now plus the allowed clock skew
	ReasonCardinalityCap Reason = "cardinality_cap"   // a new series while the active-series cap is reached
	// A new series while its metric name has the most series allowed.
	ReasonSeriesPerMetric Reason = "series_per_metric"

	ReasonEmpty        Reason = "empty"                  // a request with nothing in it, where the format forbids that
	ReasonTooLarge     Reason = "too_large"              // body over server.max_body_bytes
	ReasonTooMany      Reason = "too_many"               // more items than server.max_events_per_request
	ReasonMediaType    Reason = "unsupported_media_type" // a Content-Type the receiver does not read
	ReasonUnauthorized Reason = "unauthorized"           // missing or unknown bearer token
	ReasonForbidden    Reason = "forbidden"              // the token's role is too low
)

// reasons lists every Reason, so that each receiver's series exist (at zero)
// from the start and rates work from the first rejection.
var reasons = []Reason{
	ReasonMalformed, ReasonInvalid, ReasonLabelLimit, ReasonStore,
	ReasonOutOfOrder, ReasonDuplicate, ReasonTooOld, ReasonTooFarInFuture, ReasonCardinalityCap, ReasonSeriesPerMetric,
	ReasonEmpty, ReasonTooLarge, ReasonTooMany, ReasonMediaType, ReasonUnauthorized, ReasonForbidden,
}

// Warning names a problem with an item that was accepted all the same.
type Warning string

// Warnings.
const (
	// WarnUnknownSeverity counts items whose severity word is not one
	// osprey.ParseSeverity knows; they are stored with severity unknown.
	WarnUnknownSeverity Warning = "unknown_severity"
	// WarnTruncated counts items the sender said it left out of a payload
	// (Alertmanager's and Grafana's max_alerts): lost before they reached
	// Osprey.
	WarnTruncated Warning = "truncated_by_sender"
	// WarnNonFinite counts metric samples stored with the value NaN or
	// ±Inf, which Prometheus stores too (the staleness marker, a NaN, is
	// not counted): the anomaly detector skips them.
	WarnNonFinite Warning = "non_finite_value"
)

var warnings = []Warning{WarnUnknownSeverity, WarnTruncated, WarnNonFinite}

// Stats holds the data-quality counters of every receiver. It is safe for
// concurrent use, a prometheus.Collector (register it once) exporting
//
//	osprey_ingest_requests_total{receiver,outcome}   outcome: accepted, partial, rejected
//	osprey_ingest_items_total{receiver,outcome}      outcome: accepted, rejected
//	osprey_ingest_rejected_total{receiver,reason}    see Reason
//	osprey_ingest_warnings_total{receiver,reason}    see Warning
//
// and an http.Handler serving the same counts as JSON
// (GET /api/v1/status/ingest).
type Stats struct {
	mu        sync.RWMutex
	receivers map[string]*Receiver

	requestsDesc, itemsDesc, rejectedDesc, warningsDesc *prometheus.Desc
}

var (
	_ prometheus.Collector = (*Stats)(nil)
	_ http.Handler         = (*Stats)(nil)
)

// NewStats returns Stats with no receivers.
func NewStats() *Stats {
	return &Stats{
		receivers: make(map[string]*Receiver),
		requestsDesc: prometheus.NewDesc("osprey_ingest_requests_total",
			"Ingestion requests by receiver and outcome: accepted (every item), partial (some items rejected), rejected (nothing kept).",
			[]string{"receiver", "outcome"}, nil),
		itemsDesc: prometheus.NewDesc("osprey_ingest_items_total",
			"Items (alerts, events) received, by receiver and outcome: accepted (stored) or rejected.",
			[]string{"receiver", "outcome"}, nil),
		rejectedDesc: prometheus.NewDesc("osprey_ingest_rejected_total",
			"Rejections by receiver and reason: one per rejected item, or one per request refused as a whole (too_large, too_many, unsupported_media_type, unauthorized, forbidden, empty, and malformed bodies).",
			[]string{"receiver", "reason"}, nil),
		warningsDesc: prometheus.NewDesc("osprey_ingest_warnings_total",
			"Data-quality warnings by receiver and reason: unknown_severity (item stored with severity unknown), truncated_by_sender (items the sender left out of a payload).",
			[]string{"receiver", "reason"}, nil),
	}
}

// Receiver returns the counters of the receiver called name, creating them on
// first use. Names are chosen by the code, not by senders, so they are few.
func (s *Stats) Receiver(name string) *Receiver {
	s.mu.RLock()
	r, ok := s.receivers[name]
	s.mu.RUnlock()
	if ok {
		return r
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.receivers[name]; ok {
		return r
	}
	r = &Receiver{name: name, rejected: make(map[Reason]*atomic.Uint64, len(reasons)), warnings: make(map[Warning]*atomic.Uint64, len(warnings))}
	for _, reason := range reasons {
		r.rejected[reason] = new(atomic.Uint64)
	}
	for _, w := range warnings {
		r.warnings[w] = new(atomic.Uint64)
	}
	s.receivers[name] = r
	return r
}

// list returns the receivers sorted by name.
func (s *Stats) list() []*Receiver {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rs := make([]*Receiver, 0, len(s.receivers))
	for _, r := range s.receivers {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].name < rs[j].name })
	return rs
}

// Describe implements prometheus.Collector.
func (s *Stats) Describe(ch chan<- *prometheus.Desc) {
	ch <- s.requestsDesc
	ch <- s.itemsDesc
	ch <- s.rejectedDesc
	ch <- s.warningsDesc
}

// Collect implements prometheus.Collector.
func (s *Stats) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, r := range s.list() {
		snap := r.Snapshot()
		counter(s.requestsDesc, snap.Requests.Accepted, r.name, "accepted")
		counter(s.requestsDesc, snap.Requests.Partial, r.name, "partial")
		counter(s.requestsDesc, snap.Requests.Rejected, r.name, "rejected")
		counter(s.itemsDesc, snap.Items.Accepted, r.name, "accepted")
		counter(s.itemsDesc, snap.Items.Rejected, r.name, "rejected")
		for reason, v := range snap.Rejected {
			counter(s.rejectedDesc, v, r.name, string(reason))
		}
		for w, v := range snap.Warnings {
			counter(s.warningsDesc, v, r.name, string(w))
		}
	}
}

// Snapshot returns the counts of every receiver, by name.
func (s *Stats) Snapshot() map[string]ReceiverSnapshot {
	out := make(map[string]ReceiverSnapshot)
	for _, r := range s.list() {
		out[r.name] = r.Snapshot()
	}
	return out
}

// StatusResponse is the JSON body of GET /api/v1/status/ingest.
type StatusResponse struct {
	Receivers map[string]ReceiverSnapshot `json:"receivers"`
}

// ServeHTTP serves GET /api/v1/status/ingest: the counts of every receiver.
func (s *Stats) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	WriteJSON(w, http.StatusOK, StatusResponse{Receivers: s.Snapshot()})
}

// Receiver counts what one receiver accepted and rejected. It is safe for
// concurrent use; every request it serves ends in exactly one call of Done or
// RejectRequest.
type Receiver struct {
	name string

	requestsAccepted, requestsPartial, requestsRejected atomic.Uint64
	itemsAccepted, itemsRejected                        atomic.Uint64

	// The maps are filled by Stats.Receiver and never change after, so
	// reading them needs no lock; the counters are atomic.
	rejected map[Reason]*atomic.Uint64
	warnings map[Warning]*atomic.Uint64
}

// Name returns the receiver's name, the receiver label of its metrics.
func (r *Receiver) Name() string { return r.name }

// RejectRequest counts a request refused as a whole, before its items could
// be told apart (a body too large, a syntax error, a wrong Content-Type).
func (r *Receiver) RejectRequest(reason Reason) {
	r.requestsRejected.Add(1)
	r.reason(reason).Add(1)
}

// Rejected counts n items of a request rejected for reason. The request then
// ends with Done, which counts them among its rejected items.
func (r *Receiver) Rejected(reason Reason, n int) {
	if n > 0 {
		r.reason(reason).Add(uint64(n))
	}
}

// Warned counts n occurrences of the data-quality problem w.
func (r *Receiver) Warned(w Warning, n int) {
	if n <= 0 {
		return
	}
	if c, ok := r.warnings[w]; ok {
		c.Add(uint64(n))
	}
}

// Done ends a request whose items were told apart: accepted were stored,
// rejected were not (their reasons counted with Rejected). The request is
// accepted when nothing was rejected, partial when some items were stored,
// and rejected when none were.
func (r *Receiver) Done(accepted, rejected int) {
	r.itemsAccepted.Add(uint64(max(accepted, 0)))
	r.itemsRejected.Add(uint64(max(rejected, 0)))
	switch {
	case rejected <= 0:
		r.requestsAccepted.Add(1)
	case accepted > 0:
		r.requestsPartial.Add(1)
	default:
		r.requestsRejected.Add(1)
	}
}

// reason returns the counter of reason; an unlisted reason (a programming
// error) is counted as invalid rather than lost.
func (r *Receiver) reason(reason Reason) *atomic.Uint64 {
	if c, ok := r.rejected[reason]; ok {
		return c
	}
	return r.rejected[ReasonInvalid]
}

// ReceiverSnapshot is a copy of one receiver's counts.
type ReceiverSnapshot struct {
	Requests RequestCounts      `json:"requests"`
	Items    ItemCounts         `json:"items"`
	Rejected map[Reason]uint64  `json:"rejected"`
	Warnings map[Warning]uint64 `json:"warnings"`
}

// RequestCounts counts requests by outcome.
type RequestCounts struct {
	Accepted uint64 `json:"accepted"`
	Partial  uint64 `json:"partial"`
	Rejected uint64 `json:"rejected"`
}

// ItemCounts counts items by outcome.
type ItemCounts struct {
	Accepted uint64 `json:"accepted"`
	Rejected uint64 `json:"rejected"`
}

// Snapshot returns a copy of the receiver's counts. Each counter is read
// atomically; the set is not one instant's, which a status page does not
// need.
func (r *Receiver) Snapshot() ReceiverSnapshot {
	s := ReceiverSnapshot{
		Requests: RequestCounts{
			Accepted: r.requestsAccepted.Load(),
			Partial:  r.requestsPartial.Load(),
			Rejected: r.requestsRejected.Load(),
		},
		Items:    ItemCounts{Accepted: r.itemsAccepted.Load(), Rejected: r.itemsRejected.Load()},
		Rejected: make(map[Reason]uint64, len(r.rejected)),
		Warnings: make(map[Warning]uint64, len(r.warnings)),
	}
	for reason, c := range r.rejected {
		s.Rejected[reason] = c.Load()
	}
	for w, c := range r.warnings {
		s.Warnings[w] = c.Load()
	}
	return s
}
