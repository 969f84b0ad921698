package scrape

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey/internal/config"
)

// BenchmarkScrape scrapes a text exposition of 10,000 series over HTTP
// into the TSDB, with the detector hand-off: one iteration is one scrape.
func BenchmarkScrape(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("# TYPE http_requests_total counter\n")
	for i := range 10_000 {
		fmt.Fprintf(&sb, "http_requests_total{handler=\"/api/v%d\",code=\"%d\",method=\"GET\"} %d\n", i/5, 200+i%5, i)
	}
	body := []byte(sb.String())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	e := newEnv(b)
	now := testNow
	s := e.scraper(b, []config.ScrapeJobConfig{{JobName: "bench",
		StaticConfigs: []config.StaticConfig{{Targets: []string{strings.TrimPrefix(srv.URL, "http://")}}}}}, &now, nil)
	s.next = nil // the hand-off is measured by the detector's own benchmarks
	l := s.loops[0]
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		now = now.Add(15 * time.Second)
		if rep := l.scrape(context.Background()); !rep.Up || rep.Stored != 10_000 {
			b.Fatalf("%+v", rep)
		}
	}
	b.ReportMetric(float64(10_000*b.N)/b.Elapsed().Seconds(), "samples/s")
}
