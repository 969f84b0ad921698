package otlp

import (
	"context"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/logparse"
)

// ExportLogs takes one OTLP logs request (from HTTP or gRPC) and hands its
// records on in one batch. Rejected records are reported in the response's
// partial_success. An error means nothing was accepted and the sender
// should retry.
func (r *Receiver) ExportLogs(ctx context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	var t tally
	recs := r.convertLogs(req.Logs(), &t)
	t.accepted = len(recs)
	if r.logs != nil && len(recs) > 0 {
		if err := r.logs.ConsumeLogs(ctx, recs); err != nil {
			t.handoffFailed(r.recvLogs)
			r.log.Error("hand off otlp logs", "records", len(recs), "err", err)
			return plogotlp.NewExportResponse(), handoffError(err)
		}
	}
	t.done(r.recvLogs)
	resp := plogotlp.NewExportResponse()
	if t.n > 0 {
		resp.PartialSuccess().SetRejectedLogRecords(int64(t.n))
		resp.PartialSuccess().SetErrorMessage(t.message())
	}
	return resp, nil
}

// convertLogs turns ld into records, counting what it rejects.
func (r *Receiver) convertLogs(ld plog.Logs, t *tally) []osprey.LogRecord {
	now := r.now().UTC()
	out := make([]osprey.LogRecord, 0, ld.LogRecordCount())
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		res := resourceLabels(rl.Resource().Attributes())
		res[LabelSource] = SourceOTLP
		if err := ingest.CheckLabels(res, &r.lim); err != nil {
			t.reject(reasonOf(err), countLogs(rl), "resource %s: %v", ingest.Truncate(res.String(), 256), err)
			continue
		}
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				if rec, ok := r.logRecord(res, lrs.At(k), now, t); ok {
					out = append(out, rec)
				}
			}
		}
	}
	return out
}

// countLogs returns the records of one resource.
func countLogs(rl plog.ResourceLogs) int {
	n := 0
	for j := 0; j < rl.ScopeLogs().Len(); j++ {
		n += rl.ScopeLogs().At(j).LogRecords().Len()
	}
	return n
}

// logRecord converts one record; res is shared by the resource's records
// (records only read labels).
func (r *Receiver) logRecord(res osprey.Labels, lr plog.LogRecord, now time.Time, t *tally) (osprey.LogRecord, bool) {
	rec := osprey.LogRecord{Labels: res, Body: lr.Body().AsString()}
	switch {
	case lr.Timestamp() != 0:
		rec.Time = lr.Timestamp().AsTime().UTC()
	case lr.ObservedTimestamp() != 0:
		rec.Time = lr.ObservedTimestamp().AsTime().UTC()
	default:
		rec.Time = now
	}
	if y := rec.Time.Year(); y < 1970 || y >= 2262 {
		t.reject(ingest.ReasonInvalid, 1, "log record time %s out of range", rec.Time.Format(time.RFC3339))
		return rec, false
	}
	if strings.Contains(rec.Body, "\x00") {
		t.reject(ingest.ReasonInvalid, 1, "log record body: %v", ingest.ErrNUL)
		return rec, false
	}
	rec.Level = logparse.NormaliseLevel(lr.SeverityText())
	if rec.Level == "" {
		rec.Level = severityLevel(lr.SeverityNumber())
	}
	attrs := lr.Attributes()
	if n := attrs.Len(); n > 0 || !lr.TraceID().IsEmpty() {
		rec.Attributes = make(map[string]string, n+2)
		attrs.Range(func(k string, v pcommon.Value) bool {
			rec.Attributes[k] = v.AsString()
			return true
		})
		if !lr.TraceID().IsEmpty() {
			rec.Attributes["trace_id"] = lr.TraceID().String()
		}
		if !lr.SpanID().IsEmpty() {
			rec.Attributes["span_id"] = lr.SpanID().String()
		}
		if err := ingest.CheckAnnotations(rec.Attributes, &r.lim); err != nil {
			t.reject(reasonOf(err), 1, "log record attributes: %v", err)
			return rec, false
		}
	}
	return rec, true
}

// severityLevel maps an OpenTelemetry severity number to Osprey's level
// words, by its range (TRACE 1-4, DEBUG 5-8, INFO 9-12, WARN 13-16, ERROR
// 17-20, FATAL 21-24).
func severityLevel(n plog.SeverityNumber) string {
	switch {
	case n <= 0 || n > 24:
		return ""
	case n <= 4:
		return "trace"
	case n <= 8:
		return "debug"
	case n <= 12:
		return "info"
	case n <= 16:
		return "warning"
	case n <= 20:
		return "error"
	}
	return "critical"
}
