package loki

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/klauspost/compress/snappy"

	"github.com/osprey-aiops/osprey"
)

var update = flag.Bool("update", false, "rewrite testdata/proto from Loki's push types")

// fixturePush is the request in testdata/proto: what a Promtail with a
// syslog and a Kubernetes scrape config sends, structured metadata included.
func fixturePush() *push.PushRequest {
	ts := time.Date(2026, 3, 1, 11, 59, 0, 0, time.UTC)
	return &push.PushRequest{Streams: []push.Stream{
		{Labels: `{filename="/var/log/syslog", host="web-1", job="varlogs"}`, Entries: []push.Entry{
			{Timestamp: ts, Line: "Mar  1 11:59:00 web-1 sshd[811]: error: maximum authentication attempts exceeded for root from 10.0.0.7 port 53122 ssh2 [preauth]"},
			{Timestamp: ts.Add(time.Millisecond), Line: "Mar  1 11:59:00 web-1 CRON[812]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)"},
		}},
		{Labels: `{app="checkout", container="server", namespace="prod", pod="checkout-7d9f-x2"}`, Entries: []push.Entry{
			{Timestamp: ts.Add(2 * time.Millisecond), Line: `{"level":"warn","ts":"2026-03-01T11:59:00.002Z","msg":"payment provider slow","duration_ms":2300}`,
				StructuredMetadata: push.LabelsAdapter{{Name: "trace_id", Value: "4bf92f3577b34da6a3ce929d0e0e4736"}}},
		}},
	}}
}

const protoFixture = "promtail-shaped-push.pb.snappy"

// TestFixtures decodes the stored bodies, and rewrites the protobuf one
// with -update.
func TestFixtures(t *testing.T) {
	path := filepath.Join("testdata", "proto", protoFixture)
	if *update {
		if err := os.WriteFile(path, encodePush(t, fixturePush()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	compressed, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := snappy.Decode(nil, compressed)
	if err != nil {
		t.Fatal(err)
	}
	lim := limits{maxLineBytes: DefaultMaxLineBytes, server: testLimits}
	b := newBatch(&lim, testNow)
	err = decodeProto(raw, b)
	if err != nil || len(b.records) != 3 || b.nRejects != 0 {
		t.Fatalf("protobuf fixture: %v, %+v", err, b)
	}
	if r := b.records[0]; r.Level != "error" || r.Labels["job"] != "varlogs" || r.Time != time.Date(2026, 3, 1, 11, 59, 0, 0, time.UTC) {
		t.Errorf("syslog line %+v", r)
	}
	if r := b.records[2]; r.Level != "warning" || r.Attributes["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("json line %+v", r)
	}

	body, err := os.ReadFile(filepath.Join("testdata", "json", "loki-docs-push.json"))
	if err != nil {
		t.Fatal(err)
	}
	jb := newBatch(&lim, testNow)
	if err := decodeJSON(body, jb); err != nil || len(jb.records) != 2 {
		t.Fatalf("JSON fixture: %v, %+v", err, jb)
	}
	want := osprey.LogRecord{Time: time.Unix(0, 1570818238000000000).UTC(), Labels: osprey.Labels{"label": "value", "source": "loki"},
		Body: "fizzbuzz", Attributes: map[string]string{"trace_id": "0242ac120002", "user_id": "superUser123"}}
	if got := jb.records[1]; got.Body != want.Body || !got.Time.Equal(want.Time) || !got.Labels.Equal(want.Labels) ||
		len(got.Attributes) != 2 || got.Attributes["user_id"] != "superUser123" {
		t.Errorf("JSON fixture record %+v, want %+v", got, want)
	}
}
