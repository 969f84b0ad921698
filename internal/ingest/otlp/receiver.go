package otlp

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/auth"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/metricstore"
)

// The HTTP routes, OTLP/HTTP's default paths.
const (
	RouteMetrics = "POST /v1/metrics"
	RouteLogs    = "POST /v1/logs"
	RouteTraces  = "POST /v1/traces"
)

// The receivers' names in ingest.Stats.
const (
	ReceiverMetrics = "otlp_metrics"
	ReceiverLogs    = "otlp_logs"
	ReceiverTraces  = "otlp_traces"
)

// LabelSource and SourceOTLP: every log record gets source="otlp".
const (
	LabelSource = "source"
	SourceOTLP  = "otlp"
)

// DefaultMaxDecodedBytes bounds a body once gunzipped (32 MiB), and a gRPC
// message.
const DefaultMaxDecodedBytes = 32 << 20

// DefaultMaxFuture is how far after now a data point may be.
const DefaultMaxFuture = 10 * time.Minute

// Options configure the receiver. Every consumer may be nil: the signal is
// then decoded, counted and dropped.
type Options struct {
	// Store keeps the metric samples; nil hands them on unstored.
	Store *metricstore.Store
	// Series receives the accepted samples of each request after they are
	// committed, and owns them. It must not block (the wiring publishes
	// without waiting); a failure is counted, not returned to the sender.
	Series osprey.SeriesConsumer
	// Logs receives each request's log records; an error is a 503.
	Logs osprey.LogConsumer
	// Spans receives each request's spans; an error is a 503.
	Spans osprey.SpanConsumer
	// Stats receives the data-quality counts; nil means a private Stats.
	Stats *ingest.Stats
	// Limits: MaxBodyBytes caps the body as sent, MaxLabelsPerEvent the
	// labels of a series, log record or span (and the attributes of a log
	// record), MaxLabelValueBytes each name and value. Zero fields take
	// config.Default's values.
	Limits config.ServerConfig
	// MaxDecodedBytes caps a body once gunzipped; 0 means
	// DefaultMaxDecodedBytes.
	MaxDecodedBytes int64
	// MaxFuture is how far after now a data point may be; 0 means
	// DefaultMaxFuture.
	MaxFuture time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives hand-off and storage failures; default discards.
	Logger *slog.Logger
}

// Receiver decodes OTLP requests and hands their contents on. It is safe for
// concurrent use. Its HTTP routes are mounted by the API (Routes); its gRPC
// services by a GRPCServer.
type Receiver struct {
	store     *metricstore.Store
	series    osprey.SeriesConsumer
	logs      osprey.LogConsumer
	spans     osprey.SpanConsumer
	lim       config.ServerConfig
	maxDec    int64
	maxFuture time.Duration
	now       func() time.Time
	log       *slog.Logger
	namer     otlptranslator.MetricNamer

	recvMetrics, recvLogs, recvTraces *ingest.Receiver

	bufs ingest.BufPool // request bodies
}

// New returns a Receiver.
func New(opts Options) (*Receiver, error) {
	lim, err := ingest.WithDefaults(opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("otlp: %w", err)
	}
	if opts.MaxDecodedBytes < 0 || opts.MaxFuture < 0 {
		return nil, errors.New("otlp: negative limit")
	}
	r := &Receiver{
		store:     opts.Store,
		series:    opts.Series,
		logs:      opts.Logs,
		spans:     opts.Spans,
		lim:       lim,
		maxDec:    opts.MaxDecodedBytes,
		maxFuture: opts.MaxFuture,
		now:       opts.Now,
		log:       opts.Logger,
		namer:     otlptranslator.NewMetricNamer("", otlptranslator.UnderscoreEscapingWithSuffixes),
	}
	if r.maxDec == 0 {
		r.maxDec = DefaultMaxDecodedBytes
	}
	if r.maxFuture == 0 {
		r.maxFuture = DefaultMaxFuture
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	stats := opts.Stats
	if stats == nil {
		stats = ingest.NewStats()
	}
	r.recvMetrics = stats.Receiver(ReceiverMetrics)
	r.recvLogs = stats.Receiver(ReceiverLogs)
	r.recvTraces = stats.Receiver(ReceiverTraces)
	return r, nil
}

// Routes returns the three OTLP/HTTP routes, for the operator role.
func (r *Receiver) Routes() []ingest.Route {
	return []ingest.Route{
		{Pattern: RouteMetrics, Role: auth.RoleOperator, Receiver: r.recvMetrics, Handler: http.HandlerFunc(r.serveMetrics)},
		{Pattern: RouteLogs, Role: auth.RoleOperator, Receiver: r.recvLogs, Handler: http.HandlerFunc(r.serveLogs)},
		{Pattern: RouteTraces, Role: auth.RoleOperator, Receiver: r.recvTraces, Handler: http.HandlerFunc(r.serveTraces)},
	}
}

// encoding is a request's (and so its reply's) body encoding.
type encoding uint8

const (
	encProto encoding = iota
	encJSON
)

// contentType is the Content-Type of a reply in e.
func (e encoding) contentType() string {
	if e == encJSON {
		return "application/json"
	}
	return "application/x-protobuf"
}

// requestError refuses a whole request.
type requestError struct {
	code   int
	reason ingest.Reason
	msg    string
}

func malformed(format string, args ...any) *requestError {
	return &requestError{code: http.StatusBadRequest, reason: ingest.ReasonMalformed, msg: fmt.Sprintf(format, args...)}
}

func tooLarge(what string, limit int64, key string) *requestError {
	return &requestError{code: http.StatusRequestEntityTooLarge, reason: ingest.ReasonTooLarge,
		msg: fmt.Sprintf("%s larger than %d bytes (%s): send smaller batches", what, limit, key)}
}

func unsupported(format string, args ...any) *requestError {
	return &requestError{code: http.StatusUnsupportedMediaType, reason: ingest.ReasonMediaType, msg: fmt.Sprintf(format, args...)}
}

// unmarshaler is what the three pdata request types share.
type unmarshaler interface {
	UnmarshalProto([]byte) error
	UnmarshalJSON([]byte) error
}

// marshaler is what the three pdata response types share.
type marshaler interface {
	MarshalProto() ([]byte, error)
	MarshalJSON() ([]byte, error)
}

// decodeInto reads the request body and unmarshals it into dst.
func (r *Receiver) decodeInto(w http.ResponseWriter, req *http.Request, dst unmarshaler) (encoding, *requestError) {
	enc, rerr := requestEncoding(req.Header.Get("Content-Type"))
	if rerr != nil {
		return enc, rerr
	}
	ce := strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding")))
	if ce != "" && ce != "identity" && ce != "gzip" {
		return enc, unsupported("Content-Encoding %q is not supported: send gzip or none", ingest.Truncate(ce, 32))
	}
	bufp := r.bufs.Get()
	defer r.bufs.Put(bufp)
	body, rerr := r.readBody(w, req, (*bufp)[:0])
	if rerr != nil {
		return enc, rerr
	}
	*bufp = body[:0]
	if ce == "gzip" {
		if body, rerr = r.gunzip(body); rerr != nil {
			return enc, rerr
		}
	} else if int64(len(body)) > r.maxDec {
		return enc, tooLarge("request body", r.maxDec, "otlp.max_decoded_bytes")
	}
	if err := unmarshal(dst, body, enc); err != nil {
		return enc, malformed("%v", err)
	}
	return enc, nil
}

// unmarshal decodes body, in enc, into dst.
func unmarshal(dst unmarshaler, body []byte, enc encoding) error {
	if enc == encJSON {
		if err := dst.UnmarshalJSON(body); err != nil {
			return fmt.Errorf("decode OTLP JSON: %w", err)
		}
		return nil
	}
	if err := dst.UnmarshalProto(body); err != nil {
		return fmt.Errorf("decode OTLP protobuf: %w", err)
	}
	return nil
}

// requestEncoding tells the body's encoding from Content-Type, which OTLP
// requires.
func requestEncoding(ct string) (encoding, *requestError) {
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case err != nil:
	case mt == "application/x-protobuf" || mt == "application/protobuf":
		return encProto, nil
	case mt == "application/json":
		return encJSON, nil
	}
	return encJSON, unsupported("Content-Type %q is not supported: send application/x-protobuf or application/json (OTLP/HTTP)", ingest.Truncate(ct, 64))
}

// readBody reads the body within server.max_body_bytes into buf.
func (r *Receiver) readBody(w http.ResponseWriter, req *http.Request, buf []byte) ([]byte, *requestError) {
	limit := r.lim.MaxBodyBytes
	if req.ContentLength > limit {
		return nil, tooLarge("request body", limit, "server.max_body_bytes")
	}
	if req.ContentLength > 0 && int64(cap(buf)) < req.ContentLength+1 {
		buf = make([]byte, 0, req.ContentLength+1) // +1: ReadFrom wants room to see EOF
	}
	bb := bytes.NewBuffer(buf)
	if _, err := bb.ReadFrom(http.MaxBytesReader(w, req.Body, limit)); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge("request body", limit, "server.max_body_bytes")
		}
		return nil, malformed("read body: %v", err)
	}
	return bb.Bytes(), nil
}

// gunzip decompresses body within otlp.max_decoded_bytes.
func (r *Receiver) gunzip(body []byte) ([]byte, *requestError) {
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, malformed("gunzip body: %v", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, r.maxDec+1))
	if err != nil {
		return nil, malformed("gunzip body: %v", err)
	}
	if int64(len(out)) > r.maxDec {
		return nil, tooLarge("decompressed body", r.maxDec, "otlp.max_decoded_bytes")
	}
	return out, nil
}

// writeStatus replies code with a google.rpc.Status body in enc, as the
// OTLP/HTTP specification asks of every 4xx and 5xx reply. The JSON form
// also carries Osprey's usual "error" field.
func writeStatus(w http.ResponseWriter, enc encoding, code int, msg string) {
	st := status.New(httpToGRPC(code), msg).Proto()
	var body []byte
	if enc == encJSON {
		b, _ := protojson.Marshal(st) // a Status of a code and a string always marshals
		// protojson output is a JSON object; add "error" for Osprey's own
		// clients.
		body = append(append([]byte(`{"error":`), jsonString(msg)...), ',')
		body = append(body, b[1:]...)
	} else {
		body, _ = proto.Marshal(st)
	}
	h := w.Header()
	h.Set("Content-Type", enc.contentType())
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// jsonString quotes s as a JSON string.
func jsonString(s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return b
}

// httpToGRPC maps the HTTP codes the receiver sends to gRPC codes.
func httpToGRPC(code int) codes.Code {
	switch code {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType:
		return codes.InvalidArgument
	case http.StatusRequestEntityTooLarge:
		return codes.ResourceExhausted
	case http.StatusServiceUnavailable:
		return codes.Unavailable
	}
	return codes.Internal
}

// writeResponse replies 200 with resp in enc.
func writeResponse(w http.ResponseWriter, enc encoding, resp marshaler) {
	var (
		body []byte
		err  error
	)
	if enc == encJSON {
		body, err = resp.MarshalJSON()
	} else {
		body, err = resp.MarshalProto()
	}
	if err != nil {
		writeStatus(w, enc, http.StatusInternalServerError, "encode response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", enc.contentType())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// refuse counts and answers a request refused whole.
func (r *Receiver) refuse(w http.ResponseWriter, recv *ingest.Receiver, enc encoding, rerr *requestError) {
	recv.RejectRequest(rerr.reason)
	writeStatus(w, enc, rerr.code, rerr.msg)
}

// errHandoff marks a hand-off failure: retryable, 503 or UNAVAILABLE.
var errHandoff = errors.New("the pipeline is unavailable, nothing was accepted; retry")

func (r *Receiver) serveMetrics(w http.ResponseWriter, req *http.Request) {
	er := pmetricotlp.NewExportRequest()
	enc, rerr := r.decodeInto(w, req, er)
	if rerr != nil {
		r.refuse(w, r.recvMetrics, enc, rerr)
		return
	}
	resp, err := r.ExportMetrics(req.Context(), er)
	if err != nil {
		writeStatus(w, enc, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeResponse(w, enc, resp)
}

func (r *Receiver) serveLogs(w http.ResponseWriter, req *http.Request) {
	er := plogotlp.NewExportRequest()
	enc, rerr := r.decodeInto(w, req, er)
	if rerr != nil {
		r.refuse(w, r.recvLogs, enc, rerr)
		return
	}
	resp, err := r.ExportLogs(req.Context(), er)
	if err != nil {
		writeStatus(w, enc, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeResponse(w, enc, resp)
}

func (r *Receiver) serveTraces(w http.ResponseWriter, req *http.Request) {
	er := ptraceotlp.NewExportRequest()
	enc, rerr := r.decodeInto(w, req, er)
	if rerr != nil {
		r.refuse(w, r.recvTraces, enc, rerr)
		return
	}
	resp, err := r.ExportTraces(req.Context(), er)
	if err != nil {
		writeStatus(w, enc, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeResponse(w, enc, resp)
}

// tally counts what became of one request's items.
type tally struct {
	accepted int
	rejected map[ingest.Reason]int
	n        int // rejected in all
	first    string
}

// reject counts n items rejected for reason, remembering the first message.
func (t *tally) reject(reason ingest.Reason, n int, format string, args ...any) {
	if n <= 0 {
		return
	}
	if t.rejected == nil {
		t.rejected = make(map[ingest.Reason]int, 2)
	}
	t.rejected[reason] += n
	t.n += n
	if t.first == "" {
		t.first = fmt.Sprintf(format, args...)
	}
}

// message is the partial_success error message.
func (t *tally) message() string {
	if t.n == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d rejected; first: %s", t.n, t.n+t.accepted, t.first)
}

// done reports the tally to recv.
func (t *tally) done(recv *ingest.Receiver) {
	for reason, n := range t.rejected {
		recv.Rejected(reason, n)
	}
	recv.Done(t.accepted, t.n)
}

// handoffFailed counts a request whose accepted items could not be handed
// on: they were not accepted after all.
func (t *tally) handoffFailed(recv *ingest.Receiver) {
	t.reject(ingest.ReasonStore, t.accepted, "hand-off failed")
	t.accepted = 0
	t.done(recv)
}

// handoffError wraps a consumer's error as errHandoff.
func handoffError(err error) error {
	return fmt.Errorf("%w (%v)", errHandoff, err)
}
