package loki

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/klauspost/compress/snappy"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/auth"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/ingest"
)

// Route is the push route, Loki's own path, so that a Promtail or Alloy
// client needs only Osprey's address.
const Route = "POST /loki/api/v1/push"

// ReceiverName is the receiver's name in ingest.Stats.
const ReceiverName = "loki"

// Defaults of the Loki-specific limits.
const (
	// DefaultMaxLineBytes is Loki's own default max_line_size (256 KiB).
	DefaultMaxLineBytes = 256 << 10
	// DefaultMaxDecodedBytes bounds a body after decompression (64 MiB):
	// a 4 MiB snappy or gzip body rarely expands past 10 times.
	DefaultMaxDecodedBytes = 64 << 20
)

// Options configure the receiver. Logs is required.
type Options struct {
	// Logs receives the records of each request, in one batch. A nil error
	// means accepted: the sender is told so and will not resend.
	Logs osprey.LogConsumer
	// Stats receives the data-quality counts; nil means a private Stats.
	Stats *ingest.Stats
	// Limits: MaxBodyBytes caps the body as sent (compressed),
	// MaxLabelsPerEvent the labels of a stream and the structured-metadata
	// pairs of a line, MaxLabelValueBytes each name and value. Zero fields
	// take config.Default's values. MaxEventsPerRequest does not apply:
	// a push is bounded by its size, as in Loki.
	Limits config.ServerConfig
	// MaxLineBytes rejects longer lines (Loki's max_line_size); 0 means
	// DefaultMaxLineBytes.
	MaxLineBytes int
	// MaxDecodedBytes caps a body after decompression; 0 means
	// DefaultMaxDecodedBytes.
	MaxDecodedBytes int64
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives consumer failures; default discards.
	Logger *slog.Logger
}

// Receiver serves POST /loki/api/v1/push. It is safe for concurrent use.
type Receiver struct {
	logs       osprey.LogConsumer
	lim        limits
	maxBody    int64
	maxDecoded int64
	now        func() time.Time
	log        *slog.Logger
	recv       *ingest.Receiver

	bufs ingest.BufPool // request bodies and snappy buffers
}

var _ http.Handler = (*Receiver)(nil)

// New returns the Loki push receiver.
func New(opts Options) (*Receiver, error) {
	if opts.Logs == nil {
		return nil, errors.New("loki: no log consumer")
	}
	server, err := ingest.WithDefaults(opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("loki: %w", err)
	}
	if opts.MaxLineBytes < 0 || opts.MaxDecodedBytes < 0 {
		return nil, errors.New("loki: negative limit")
	}
	r := &Receiver{
		logs:       opts.Logs,
		lim:        limits{server: server, maxLineBytes: opts.MaxLineBytes},
		maxBody:    server.MaxBodyBytes,
		maxDecoded: opts.MaxDecodedBytes,
		now:        opts.Now,
		log:        opts.Logger,
	}
	if r.lim.maxLineBytes == 0 {
		r.lim.maxLineBytes = DefaultMaxLineBytes
	}
	if r.maxDecoded == 0 {
		r.maxDecoded = DefaultMaxDecodedBytes
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
	r.recv = stats.Receiver(ReceiverName)
	return r, nil
}

// Routes returns the push route, for the operator role (senders ingest).
func (r *Receiver) Routes() []ingest.Route {
	return []ingest.Route{{Pattern: Route, Role: auth.RoleOperator, Handler: r, Receiver: r.recv}}
}

// requestError refuses a whole request.
type requestError struct {
	code   int
	reason ingest.Reason
	msg    string
}

func (e *requestError) Error() string { return e.msg }

// format is the body's encoding.
type format uint8

const (
	formatProto format = iota
	formatJSON
)

// ServeHTTP serves one push: 204 when every entry was accepted, 400 naming
// the first problem when some were not (the others are kept, as Loki keeps
// them), 413/415/400 when the request is refused whole, 503 (500 when
// retrying cannot help) when the consumer failed.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, rerr := r.decodeRequest(w, req)
	if rerr != nil {
		r.recv.RejectRequest(rerr.reason)
		r.log.Debug("refused loki push", "reason", rerr.reason, "err", rerr.msg)
		ingest.WriteError(w, rerr.code, rerr.msg, -1)
		return
	}
	for reason, n := range b.rejected {
		r.recv.Rejected(reason, n)
	}
	n := len(b.records)
	if n > 0 {
		if err := r.logs.ConsumeLogs(req.Context(), b.records); err != nil {
			r.recv.Rejected(ingest.ReasonStore, n)
			r.recv.Done(0, n+b.nRejects)
			r.log.Error("hand off loki push", "lines", n, "err", err)
			code := http.StatusServiceUnavailable
			if osprey.IsPermanent(err) {
				code = http.StatusInternalServerError
			}
			ingest.WriteError(w, code, "hand off log lines: the pipeline is unavailable, nothing was accepted; retry", -1)
			return
		}
	}
	r.recv.Done(n, b.nRejects)
	if b.nRejects > 0 {
		msg := fmt.Sprintf("%d of %d entries rejected, %d accepted: %s", b.nRejects, b.nRejects+n, n, b.firstErr)
		ingest.WriteError(w, http.StatusBadRequest, msg, -1)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// decodeRequest reads, decompresses and decodes the body.
func (r *Receiver) decodeRequest(w http.ResponseWriter, req *http.Request) (*batch, *requestError) {
	f, rerr := contentFormat(req.Header.Get("Content-Type"))
	if rerr != nil {
		return nil, rerr
	}
	// As Loki: gzip and deflate are undone here; "snappy" names the
	// compression every protobuf body has anyway.
	enc := strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding")))
	switch enc {
	case "", "identity", "snappy", "gzip", "deflate":
	default:
		return nil, &requestError{code: http.StatusUnsupportedMediaType, reason: ingest.ReasonMediaType,
			msg: fmt.Sprintf("Content-Encoding %s is not supported: send gzip, deflate or none", quoteForError(enc, 32))}
	}
	bufp := r.bufs.Get()
	defer r.bufs.Put(bufp)
	body, rerr := r.readBody(w, req, (*bufp)[:0])
	if rerr != nil {
		return nil, rerr
	}
	*bufp = body[:0]
	if enc == "gzip" || enc == "deflate" {
		if body, rerr = r.inflate(enc, body); rerr != nil {
			return nil, rerr
		}
	}
	b := newBatch(&r.lim, r.now())
	var err error
	if f == formatJSON {
		err = decodeJSON(body, b)
	} else {
		sbufp := r.bufs.Get()
		defer r.bufs.Put(sbufp)
		var raw []byte
		if raw, rerr = r.unsnappy(body, (*sbufp)[:0]); rerr != nil {
			return nil, rerr
		}
		*sbufp = raw[:0]
		err = decodeProto(raw, b)
	}
	if err != nil {
		what := "protobuf push request"
		if f == formatJSON {
			what = "JSON push request"
		}
		return nil, &requestError{code: http.StatusBadRequest, reason: ingest.ReasonMalformed,
			msg: fmt.Sprintf("decode %s: %v", what, err)}
	}
	return b, nil
}

// contentFormat tells the body's format from Content-Type. Loki reads a
// request without one as protobuf, and so does Osprey.
func contentFormat(ct string) (format, *requestError) {
	if ct == "" {
		return formatProto, nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case err != nil:
	case mt == "application/json":
		return formatJSON, nil
	case mt == "application/x-protobuf" || mt == "application/protobuf" || mt == "application/x-snappy":
		return formatProto, nil
	}
	return 0, &requestError{code: http.StatusUnsupportedMediaType, reason: ingest.ReasonMediaType,
		msg: fmt.Sprintf("Content-Type %s is not supported: send application/x-protobuf (snappy-compressed) or application/json",
			quoteForError(ct, 64))}
}

func (r *Receiver) tooLarge(what string, limit int64) *requestError {
	return &requestError{code: http.StatusRequestEntityTooLarge, reason: ingest.ReasonTooLarge,
		msg: fmt.Sprintf("%s larger than %d bytes: send smaller batches", what, limit)}
}

// readBody reads the body, within MaxBodyBytes, into buf.
func (r *Receiver) readBody(w http.ResponseWriter, req *http.Request, buf []byte) ([]byte, *requestError) {
	if req.ContentLength > r.maxBody {
		return nil, r.tooLarge("request body", r.maxBody)
	}
	if req.ContentLength > 0 && int64(cap(buf)) < req.ContentLength+1 {
		buf = make([]byte, 0, req.ContentLength+1) // +1: ReadFrom wants room to see EOF
	}
	bb := bytes.NewBuffer(buf)
	if _, err := bb.ReadFrom(http.MaxBytesReader(w, req.Body, r.maxBody)); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, r.tooLarge("request body", r.maxBody)
		}
		return nil, &requestError{code: http.StatusBadRequest, reason: ingest.ReasonMalformed, msg: "read body: " + err.Error()}
	}
	return bb.Bytes(), nil
}

// inflate decompresses a gzip or (raw, as Loki reads it) deflate body
// within MaxDecodedBytes.
func (r *Receiver) inflate(enc string, body []byte) ([]byte, *requestError) {
	var zr io.Reader = flate.NewReader(bytes.NewReader(body))
	if enc == "gzip" {
		gz, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, &requestError{code: http.StatusBadRequest, reason: ingest.ReasonMalformed, msg: "gunzip body: " + err.Error()}
		}
		zr = gz
	}
	out, err := io.ReadAll(io.LimitReader(zr, r.maxDecoded+1))
	if err != nil {
		return nil, &requestError{code: http.StatusBadRequest, reason: ingest.ReasonMalformed, msg: "decompress " + enc + " body: " + err.Error()}
	}
	if int64(len(out)) > r.maxDecoded {
		return nil, r.tooLarge("decompressed body", r.maxDecoded)
	}
	return out, nil
}

// unsnappy decodes a snappy block (not the framed format: Loki clients
// compress the whole message with snappy.Encode) within MaxDecodedBytes.
func (r *Receiver) unsnappy(body, dst []byte) ([]byte, *requestError) {
	n, err := snappy.DecodedLen(body)
	if err != nil {
		return nil, &requestError{code: http.StatusBadRequest, reason: ingest.ReasonMalformed,
			msg: "decode snappy body: " + err.Error() + " (the protobuf push must be snappy-compressed)"}
	}
	if int64(n) > r.maxDecoded {
		return nil, r.tooLarge("decompressed body", r.maxDecoded)
	}
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	out, err := snappy.Decode(dst[:cap(dst)], body)
	if err != nil {
		return nil, &requestError{code: http.StatusBadRequest, reason: ingest.ReasonMalformed,
			msg: "decode snappy body: " + err.Error() + " (the protobuf push must be snappy-compressed)"}
	}
	return out, nil
}
