package promremote

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/prometheus/prompb"

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

// decodeRequest checks the headers, reads the body within the limits and
// decodes it.
func (r *Receiver) decodeRequest(w http.ResponseWriter, req *http.Request) (*prompb.WriteRequest, *requestError) {
	if err := checkHeaders(req.Header); err != nil {
		return nil, err
	}
	limit := r.limits.MaxBodyBytes
	if req.ContentLength > limit {
		return nil, tooLarge("request body larger than %d bytes (server.max_body_bytes): lower max_samples_per_send", limit)
	}
	size := int64(bytes.MinRead)
	if req.ContentLength > 0 {
		size = req.ContentLength + 1 // +1: ReadFrom wants room to see EOF
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, req.Body, limit)); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge("request body larger than %d bytes (server.max_body_bytes): lower max_samples_per_send", limit)
		}
		return nil, &requestError{code: http.StatusBadRequest, reason: ingest.ReasonMalformed, msg: fmt.Sprintf("read body: %v", err)}
	}
	return decode(buf.Bytes(), r.limits.MaxDecodedBytes)
}

// checkHeaders accepts what remote-write 1.0 senders send: Content-Type
// application/x-protobuf (with no proto parameter, or prometheus.WriteRequest)
// and Content-Encoding snappy. A missing Content-Encoding is taken as snappy,
// as Prometheus' own receiver does for early 1.0 clients.
func checkHeaders(h http.Header) *requestError {
	if ct := h.Get("Content-Type"); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		switch {
		case err != nil || mt != "application/x-protobuf":
			return unsupported("Content-Type %q is not supported: send application/x-protobuf (Prometheus remote_write)", ingest.Truncate(ct, 64))
		case params["proto"] != "" && params["proto"] != protoV1:
			return unsupported("remote-write message %q is not supported: Osprey takes remote-write 1.0 (%s); "+
				"set protobuf_message: %s in the remote_write block", ingest.Truncate(params["proto"], 64), protoV1, protoV1)
		}
	}
	if ce := h.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "snappy") {
		return unsupported("Content-Encoding %q is not supported: remote_write bodies are snappy-compressed", ingest.Truncate(ce, 32))
	}
	return nil
}

// decode decompresses a snappy block of at most maxDecoded bytes and
// unmarshals the prometheus.WriteRequest in it. A malformed body is a 400
// error, a too large one a 413.
func decode(body []byte, maxDecoded int64) (*prompb.WriteRequest, *requestError) {
	n, err := snappy.DecodedLen(body)
	if err != nil {
		return nil, malformed("decode snappy block: %v", err)
	}
	if int64(n) > maxDecoded {
		return nil, tooLarge("body decompresses to %d bytes, more than %d (remote_write.max_decoded_bytes): lower max_samples_per_send", n, maxDecoded)
	}
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		return nil, malformed("decode snappy block: %v", err)
	}
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(raw); err != nil {
		return nil, malformed("decode protobuf WriteRequest: %v", err)
	}
	return &wr, nil
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
