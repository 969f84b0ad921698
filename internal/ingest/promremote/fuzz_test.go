package promremote

import (
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

// FuzzWrite feeds arbitrary bodies through the whole receiver: header
// checks, snappy, protobuf, label checks and the TSDB append. It must never
// panic, and must answer 204, 400, 413 or 415.
func FuzzWrite(f *testing.F) {
	f.Add(encode(f, series([]prompb.Sample{{Timestamp: ms(0), Value: 1}}, "__name__", "up", "job", "api")))
	f.Add(encode(f,
		series([]prompb.Sample{{Timestamp: ms(0), Value: math.NaN()}, {Timestamp: ms(-time.Second), Value: 2}}, "__name__", "m"),
		series([]prompb.Sample{{Timestamp: ms(time.Hour), Value: 1}}, "__name__", "m", "bad-name", "v"),
		series([]prompb.Sample{{Timestamp: ms(0), Value: 1}}, "job", "no-name"),
	))
	f.Add(encode(f))
	f.Add(snappy.Encode(nil, []byte{0x0a, 0x02, 0x0a, 0x00}))
	f.Add([]byte("not snappy"))
	f.Add([]byte{})
	e := newEnv(f, 1000, Limits{})
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := e.post(t, body)
		switch rec.Code {
		case http.StatusNoContent, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		default:
			t.Fatalf("reply %d %s", rec.Code, rec.Body)
		}
	})
}
