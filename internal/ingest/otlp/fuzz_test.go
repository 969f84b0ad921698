package otlp

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/ingest"
)

// fuzzBody runs one body, in both encodings, through the decoder and
// converter of path and checks the invariants: no panic, every item counted
// once, every label name valid.
func fuzzBody(t *testing.T, r *Receiver, path string, body []byte) {
	for _, enc := range []encoding{encProto, encJSON} {
		var tl tally
		switch path {
		case "metrics":
			req := pmetricotlp.NewExportRequest()
			if unmarshal(req, body, enc) != nil {
				continue
			}
			for _, s := range r.convertMetrics(req.Metrics(), &tl) {
				for k := range s.Labels {
					if k != "__name__" && !ingest.ValidLabelName(k) {
						t.Fatalf("label name %q", k)
					}
				}
				if len(s.Samples) != 1 {
					t.Fatalf("series %+v", s)
				}
			}
		case "logs":
			req := plogotlp.NewExportRequest()
			if unmarshal(req, body, enc) != nil {
				continue
			}
			recs := r.convertLogs(req.Logs(), &tl)
			if len(recs)+tl.n != req.Logs().LogRecordCount() {
				t.Fatalf("%d records + %d rejected != %d", len(recs), tl.n, req.Logs().LogRecordCount())
			}
		case "traces":
			req := ptraceotlp.NewExportRequest()
			if unmarshal(req, body, enc) != nil {
				continue
			}
			spans := r.convertTraces(req.Traces(), &tl)
			if len(spans)+tl.n != req.Traces().SpanCount() {
				t.Fatalf("%d spans + %d rejected != %d", len(spans), tl.n, req.Traces().SpanCount())
			}
			for _, s := range spans {
				if s.TraceID == "" || s.SpanID == "" || s.Duration < 0 {
					t.Fatalf("span %+v", s)
				}
			}
		}
	}
}

func fuzzSeeds(f *testing.F) {
	mp, _ := pmetricotlp.NewExportRequestFromMetrics(testMetrics()).MarshalProto()
	mj, _ := pmetricotlp.NewExportRequestFromMetrics(testMetrics()).MarshalJSON()
	tp, _ := ptraceotlp.NewExportRequestFromTraces(testTraces()).MarshalProto()
	tj, _ := ptraceotlp.NewExportRequestFromTraces(testTraces()).MarshalJSON()
	for _, b := range [][]byte{mp, mj, tp, tj, []byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"x"},"severityNumber":17}]}]}]}`)} {
		f.Add(b)
	}
}

func FuzzMetrics(f *testing.F) {
	fuzzSeeds(f)
	var s sink
	r, _ := newTestReceiver(f, &s, config.ServerConfig{})
	f.Fuzz(func(t *testing.T, body []byte) { fuzzBody(t, r, "metrics", body) })
}

func FuzzLogs(f *testing.F) {
	fuzzSeeds(f)
	var s sink
	r, _ := newTestReceiver(f, &s, config.ServerConfig{})
	f.Fuzz(func(t *testing.T, body []byte) { fuzzBody(t, r, "logs", body) })
}

func FuzzTraces(f *testing.F) {
	fuzzSeeds(f)
	var s sink
	r, _ := newTestReceiver(f, &s, config.ServerConfig{})
	f.Fuzz(func(t *testing.T, body []byte) { fuzzBody(t, r, "traces", body) })
}
