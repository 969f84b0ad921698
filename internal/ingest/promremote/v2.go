package promremote

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey/internal/ingest"
)

// This file is the remote-write 2.0 receiver: a request whose Content-Type
// is application/x-protobuf;proto=io.prometheus.write.v2.Request. Its body
// (an io.prometheus.write.v2.Request: a symbols table, and series whose
// labels are pairs of references into it) is turned into the wireRequest the
// 1.0 path decodes to, so that both versions share one pipeline: the series
// cache, the label checks and limits, the TSDB append and the hand-off to the
// detector, and the per-reason counts of receiver prometheus_remote_write.
//
// What 2.0 adds is handled as the 1.0 path handles its equivalent: native
// histogram samples are rejected as invalid (not supported yet), exemplars
// and metadata (type, help, unit) are counted in
// osprey_remote_write_v2_ignored_total and not kept, and so are the start
// (created) timestamps of samples. Every reply after the Content-Type was
// accepted carries the X-Prometheus-Remote-Write-*-Written headers the spec
// requires, a partial write's 400 included.

// protoV2 is the protobuf message of remote-write 2.0, as the proto
// parameter of the Content-Type names it.
const protoV2 = "io.prometheus.write.v2.Request"

// contentTypeV2 is the Content-Type Prometheus' 2.0 sender sends.
const contentTypeV2 = "application/x-protobuf;proto=" + protoV2

// The response headers of remote-write 2.0: how many samples, histogram
// samples and exemplars of the request were written.
const (
	HeaderSamplesWritten    = "X-Prometheus-Remote-Write-Samples-Written"
	HeaderHistogramsWritten = "X-Prometheus-Remote-Write-Histograms-Written"
	HeaderExemplarsWritten  = "X-Prometheus-Remote-Write-Exemplars-Written"
)

// The kinds of osprey_remote_write_v2_ignored_total.
const (
	ignoredExemplar       = "exemplar"
	ignoredMetadata       = "metadata"
	ignoredStartTimestamp = "start_timestamp"
)

// v2Metrics are the remote-write 2.0 receiver's own metrics.
type v2Metrics struct {
	// ignored counts what 2.0 requests carry and Osprey does not keep, by
	// kind; the counters are its children.
	ignored                              *prometheus.CounterVec
	exemplars, metadata, startTimestamps prometheus.Counter
}

// newV2Metrics returns the metrics, registered with reg when it is not nil.
func newV2Metrics(reg prometheus.Registerer) (v2Metrics, error) {
	m := v2Metrics{ignored: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "osprey_remote_write_v2_ignored_total",
		Help: "Parts of remote-write 2.0 requests that Osprey reads but does not keep: exemplars, series metadata (type, help, unit) and start (created) timestamps of samples.",
	}, []string{"kind"})}
	m.exemplars = m.ignored.WithLabelValues(ignoredExemplar)
	m.metadata = m.ignored.WithLabelValues(ignoredMetadata)
	m.startTimestamps = m.ignored.WithLabelValues(ignoredStartTimestamp)
	if reg != nil {
		if err := reg.Register(m.ignored); err != nil {
			return m, fmt.Errorf("promremote: register remote-write 2.0 metrics: %w", err)
		}
	}
	return m, nil
}

// serveNegotiated answers the requests that are not remote-write 1.0's: a
// remote-write 2.0 request, or a protobuf message Osprey does not know
// (415). It reports whether it answered; if not, the request is left to the
// 1.0 path (which also refuses a Content-Type that is not protobuf).
func (r *Receiver) serveNegotiated(w http.ResponseWriter, req *http.Request) bool {
	ct := req.Header.Get("Content-Type")
	switch ct {
	case "", "application/x-protobuf":
		return false // 1.0's fast path: no parsing
	case contentTypeV2:
		r.serveWriteV2(w, req)
		return true
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/x-protobuf" {
		return false
	}
	switch params["proto"] {
	case "", protoV1:
		return false
	case protoV2:
		r.serveWriteV2(w, req)
	default:
		r.recv.RejectRequest(ingest.ReasonMediaType)
		ingest.WriteError(w, http.StatusUnsupportedMediaType, fmt.Sprintf(
			"remote-write message %q is not supported: Osprey takes %s (remote-write 1.0) and %s (remote-write 2.0)",
			ingest.Truncate(params["proto"], 64), protoV1, protoV2), -1)
	}
	return true
}

// v2Request is a decoded remote-write 2.0 request, and the wireRequest it
// becomes. It is reused between requests (v2Pool).
type v2Request struct {
	wr wireRequest
	// The first pass of the decoder (v2wire.go): the symbols (pointing
	// into wr.raw), the series, their labels_refs and their exemplars'
	// labels_refs, and the reserved fields met.
	syms     []string
	series   []v2Series
	refs     []uint32
	exRefs   []uint32
	reserved []int32
	// keys holds the cache keys of the series, one after the other; keyEnd
	// is the end of each series' key in it.
	keys   []byte
	keyEnd []int
	// refErrs are the series whose references do not resolve: rejected
	// before they reach write.
	refErrs []v2RefError
	// What the request carries that is not kept.
	exemplars, metadata, startTimestamps int
}

// v2RefError is a series whose labels, exemplars or metadata refer outside
// the symbols table.
type v2RefError struct {
	index, samples int
	msg            string
}

// v2Pool recycles v2Requests.
var v2Pool = sync.Pool{New: func() any { return new(v2Request) }}

// reset empties v for reuse, keeping its buffers.
func (v *v2Request) reset() {
	v.wr.reset()
	clear(v.syms) // no string may keep a previous body alive
	v.syms = v.syms[:0]
	v.series = v.series[:0]
	v.refs = v.refs[:0]
	v.exRefs = v.exRefs[:0]
	v.reserved = v.reserved[:0]
	v.keys = v.keys[:0]
	v.keyEnd = v.keyEnd[:0]
	v.refErrs = v.refErrs[:0]
	v.exemplars, v.metadata, v.startTimestamps = 0, 0, 0
}

// numItems returns the number of samples and histogram samples of v.
func (v *v2Request) numItems() int {
	n := 0
	for _, s := range v.wr.series {
		n += int(s.samplesHi-s.samplesLo) + int(s.histograms)
	}
	for _, e := range v.refErrs {
		n += e.samples
	}
	return n
}

// setWritten sets the remote-write 2.0 response headers.
func setWritten(h http.Header, samples, histograms, exemplars int) {
	h.Set(HeaderSamplesWritten, strconv.Itoa(samples))
	h.Set(HeaderHistogramsWritten, strconv.Itoa(histograms))
	h.Set(HeaderExemplarsWritten, strconv.Itoa(exemplars))
}

// serveWriteV2 handles one remote-write 2.0 request.
func (r *Receiver) serveWriteV2(w http.ResponseWriter, req *http.Request) {
	v := v2Pool.Get().(*v2Request)
	defer func() {
		if cap(v.wr.raw) <= maxPooledBytes && cap(v.wr.body) <= maxPooledBytes {
			v.reset()
			v2Pool.Put(v)
		}
	}()
	// The written headers go on every reply from here, as the spec asks.
	if rerr := r.decodeRequestV2(w, req, v); rerr != nil {
		setWritten(w.Header(), 0, 0, 0)
		r.recv.RejectRequest(rerr.reason)
		ingest.WriteError(w, rerr.code, rerr.msg, -1)
		return
	}
	r.v2.exemplars.Add(float64(v.exemplars))
	r.v2.metadata.Add(float64(v.metadata))
	r.v2.startTimestamps.Add(float64(v.startTimestamps))
	wr := &v.wr
	res, err := r.write(req.Context(), wr)
	if err != nil {
		n := v.numItems()
		r.recv.Rejected(ingest.ReasonStore, n)
		r.recv.Done(0, n)
		r.log.Error("store remote_write 2.0 samples", "samples", n, "err", err)
		setWritten(w.Header(), 0, 0, 0)
		ingest.WriteError(w, http.StatusServiceUnavailable, "store samples: the TSDB is unavailable, nothing was stored; retry", -1)
		return
	}
	if len(v.refErrs) > 0 {
		// Reference problems are the sender's bug: name the first of them.
		for _, e := range v.refErrs {
			res.rejected[rejInvalid] += e.samples
		}
		res.first = v.refErrs[0].msg
	}
	rejected := r.account(req.Context(), &res)
	// Native histograms are never written (see write), nor exemplars.
	setWritten(w.Header(), res.accepted, 0, 0)
	if rejected > 0 || len(v.refErrs) > 0 {
		ingest.WriteError(w, http.StatusBadRequest, res.summary(rejected), -1)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// decodeRequestV2 checks the Content-Encoding, reads the body within the
// limits and decodes it into v.
func (r *Receiver) decodeRequestV2(w http.ResponseWriter, req *http.Request, v *v2Request) *requestError {
	if e := checkEncoding(req.Header); e != nil {
		return e
	}
	limit := r.limits.MaxBodyBytes
	if req.ContentLength > limit {
		return tooLarge("request body larger than %d bytes (server.max_body_bytes): lower max_samples_per_send", limit)
	}
	size := int64(bytes.MinRead)
	if req.ContentLength > 0 {
		size = req.ContentLength + 1 // +1: ReadFrom wants room to see EOF
	}
	buf := bytes.NewBuffer(slices.Grow(v.wr.body[:0], int(size)))
	_, err := buf.ReadFrom(http.MaxBytesReader(w, req.Body, limit))
	v.wr.body = buf.Bytes()
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return tooLarge("request body larger than %d bytes (server.max_body_bytes): lower max_samples_per_send", limit)
		}
		return malformed("read body: %v", err)
	}
	n, err := snappy.DecodedLen(v.wr.body)
	if err != nil {
		return malformed("decode snappy block: %v", err)
	}
	if int64(n) > r.limits.MaxDecodedBytes {
		return tooLarge("body decompresses to %d bytes, more than %d (remote_write.max_decoded_bytes): lower max_samples_per_send", n, r.limits.MaxDecodedBytes)
	}
	raw, err := snappy.Decode(v.wr.raw[:cap(v.wr.raw)], v.wr.body)
	if err != nil {
		return malformed("decode snappy block: %v", err)
	}
	v.wr.raw = raw
	if err := v.decode(); err != nil {
		return malformed("decode protobuf %s: %v", protoV2, err)
	}
	return nil
}

// decode decodes v.wr.raw, an io.prometheus.write.v2.Request, into v.wr:
// each series' labels resolved from the symbols table, its samples, and a
// cache key (see appendV2Key). A series whose references do not resolve
// goes to v.refErrs instead.
func (v *v2Request) decode() error { return v.decodeWire() }

// setKeys points each series' key into v.keys, complete now (appending may
// have moved it).
func (v *v2Request) setKeys() {
	lo := 0
	for i, hi := range v.keyEnd {
		if hi > lo {
			v.wr.series[i].key = yoloString(v.keys[lo:hi])
		}
		lo = hi
	}
}

// reservedError is the error of a Request holding field, one of the fields
// 1 to 3 that 2.0 reserves: they are a remote-write 1.0
// prometheus.WriteRequest's, sent with the 2.0 Content-Type, which would
// otherwise decode to an empty request and be acknowledged with nothing
// written.
func reservedError(field int32) error {
	return fmt.Errorf("field %d is reserved in %s; a remote-write 1.0 %s has it: send that with Content-Type application/x-protobuf", field, protoV2, protoV1)
}

// appendV2Key appends the cache key of a series with labels ls to b: the
// labels encoded as remote-write 1.0's TimeSeries label fields (a
// prometheus.Label message each, both fields always present). The key of
// a 1.0 series is its label fields as sent, and equal bytes decode to equal
// labels either way, so the two versions share the cache (and a series sent
// by both may be cached once per encoding).
func appendV2Key(b []byte, ls []wireLabel) []byte {
	// Sized once, then written in place: this runs for every series of
	// every request.
	size := 0
	for _, l := range ls {
		n := 2 + uvarintLen(len(l.name)) + len(l.name) + uvarintLen(len(l.value)) + len(l.value)
		size += 1 + uvarintLen(n) + n
	}
	k := len(b)
	b = slices.Grow(b, size)[:k+size]
	for _, l := range ls {
		n := 2 + uvarintLen(len(l.name)) + len(l.name) + uvarintLen(len(l.value)) + len(l.value)
		b[k] = 0x0a
		k = putUvarint(b, k+1, n)
		b[k] = 0x0a
		k = putUvarint(b, k+1, len(l.name))
		k += copy(b[k:], l.name)
		b[k] = 0x12
		k = putUvarint(b, k+1, len(l.value))
		k += copy(b[k:], l.value)
	}
	return b
}

// putUvarint writes n as a varint at b[k:], which has room, and returns
// the index after it.
func putUvarint(b []byte, k, n int) int {
	for n >= 0x80 {
		b[k] = byte(n) | 0x80
		n >>= 7
		k++
	}
	b[k] = byte(n)
	return k + 1
}

// uvarintLen is the length of n as a varint.
func uvarintLen(n int) int {
	k := 1
	for ; n >= 0x80; n >>= 7 {
		k++
	}
	return k
}
