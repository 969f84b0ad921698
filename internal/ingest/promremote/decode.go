package promremote

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/klauspost/compress/snappy"

	"github.com/osprey-aiops/osprey/internal/ingest"
)

// requestError is a request refused as a whole.
type requestError struct {
	code   int
	reason ingest.Reason
	msg    string
}

// protoV1 is the protobuf message of remote-write 1.0, as the proto
// parameter of the Content-Type names it.
const protoV1 = "prometheus.WriteRequest"

// maxPooledBytes is the largest buffer kept in wirePool: a rare huge
// request should not pin its buffers for good.
const maxPooledBytes = 8 << 20

// wirePool recycles the buffers of decoded requests.
var wirePool = sync.Pool{New: func() any { return new(wireRequest) }}

// getWire returns an empty wireRequest from the pool.
func getWire() *wireRequest { return wirePool.Get().(*wireRequest) }

// putWire returns wr to the pool; nothing may use its strings afterwards.
func putWire(wr *wireRequest) {
	if cap(wr.raw) > maxPooledBytes || cap(wr.body) > maxPooledBytes {
		return
	}
	wr.reset()
	wirePool.Put(wr)
}

// decodeRequest checks the headers, reads the body within the limits and
// decodes it into wr.
func (r *Receiver) decodeRequest(w http.ResponseWriter, req *http.Request, wr *wireRequest) *requestError {
	if err := checkHeaders(req.Header); err != nil {
		return err
	}
	limit := r.limits.MaxBodyBytes
	if req.ContentLength > limit {
		return tooLarge("request body larger than %d bytes (server.max_body_bytes): lower max_samples_per_send", limit)
	}
	size := int64(bytes.MinRead)
	if req.ContentLength > 0 {
		size = req.ContentLength + 1 // +1: ReadFrom wants room to see EOF
	}
	buf := bytes.NewBuffer(slices.Grow(wr.body[:0], int(size)))
	_, err := buf.ReadFrom(http.MaxBytesReader(w, req.Body, limit))
	wr.body = buf.Bytes()
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return tooLarge("request body larger than %d bytes (server.max_body_bytes): lower max_samples_per_send", limit)
		}
		return &requestError{code: http.StatusBadRequest, reason: ingest.ReasonMalformed, msg: fmt.Sprintf("read body: %v", err)}
	}
	return decode(wr, r.limits.MaxDecodedBytes)
}

// checkHeaders accepts what remote-write 1.0 senders send: Content-Type
// application/x-protobuf (with no proto parameter, or prometheus.WriteRequest)
// and Content-Encoding snappy. A missing Content-Encoding is taken as snappy,
// as Prometheus' own receiver does for early 1.0 clients.
func checkHeaders(h http.Header) *requestError {
	// serveNegotiated has answered every proto parameter but 1.0's.
	if ct := h.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/x-protobuf" {
			return unsupported("Content-Type %q is not supported: send application/x-protobuf (Prometheus remote_write)", ingest.Truncate(ct, 64))
		}
	}
	return checkEncoding(h)
}

// checkEncoding refuses a Content-Encoding other than snappy (both
// versions' bodies are snappy blocks).
func checkEncoding(h http.Header) *requestError {
	if ce := h.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "snappy") {
		return unsupported("Content-Encoding %q is not supported: remote_write bodies are snappy-compressed", ingest.Truncate(ce, 32))
	}
	return nil
}

// decode decompresses wr.body, a snappy block of at most maxDecoded bytes,
// and decodes the prometheus.WriteRequest in it into wr. A malformed body is
// a 400 error, a too large one a 413.
func decode(wr *wireRequest, maxDecoded int64) *requestError {
	n, err := snappy.DecodedLen(wr.body)
	if err != nil {
		return malformed("decode snappy block: %v", err)
	}
	if int64(n) > maxDecoded {
		return tooLarge("body decompresses to %d bytes, more than %d (remote_write.max_decoded_bytes): lower max_samples_per_send", n, maxDecoded)
	}
	raw, err := snappy.Decode(wr.raw[:cap(wr.raw)], wr.body)
	if err != nil {
		return malformed("decode snappy block: %v", err)
	}
	wr.raw = raw
	if err := wr.decodeWriteRequest(); err != nil {
		return malformed("decode protobuf WriteRequest: %v", err)
	}
	return nil
}

func malformed(format string, args ...any) *requestError {
	return &requestError{code: http.StatusBadRequest, reason: ingest.ReasonMalformed, msg: fmt.Sprintf(format, args...)}
}

func tooLarge(format string, args ...any) *requestError {
	return &requestError{code: http.StatusRequestEntityTooLarge, reason: ingest.ReasonTooLarge, msg: fmt.Sprintf(format, args...)}
}

func unsupported(format string, args ...any) *requestError {
	return &requestError{code: http.StatusUnsupportedMediaType, reason: ingest.ReasonMediaType, msg: fmt.Sprintf(format, args...)}
}
