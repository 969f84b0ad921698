package syslog

import (
	"testing"
	"time"

	"github.com/osprey-aiops/osprey/internal/logparse"
)

// BenchmarkSyslogMessage parses one message and builds its record, the
// per-message work of the receiver after framing.
func BenchmarkSyslogMessage(b *testing.B) {
	for _, bc := range []struct{ name, msg string }{
		{"rfc5424", `<165>1 2026-01-05T11:58:01.003Z web-1.example.com nginx 4242 ID47 [exampleSDID@32473 iut="3" eventSource="Application"] 10.0.0.7 - - "GET /api/v1/orders/1234 HTTP/1.1" 200 512 "-" "curl/8.5.0"`},
		{"rfc3164", `<86>Jan  5 11:58:01 web-1 sshd[19939]: Accepted publickey for deploy from 10.0.0.7 port 53122 ssh2: ED25519 SHA256:abc`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			raw := []byte(bc.msg)
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				m, err := logparse.ParseSyslog(string(raw), testNow, time.UTC)
				if err != nil {
					b.Fatal(err)
				}
				_ = toRecord(&m, "10.0.0.1", testNow)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
