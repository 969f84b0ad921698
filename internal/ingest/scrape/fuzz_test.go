package scrape

import (
	"net/url"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey/internal/config"
)

// FuzzTarget checks that any target the config accepts yields a URL that
// parses back to the same host, and that nothing panics on odd input.
func FuzzTarget(f *testing.F) {
	for _, s := range []string{"localhost:9100", "[::1]:9090", "10.0.0.1:80", "a:b", "host", "http://x:1/metrics", ":9", "h:9?x", "h@x:9"} {
		f.Add(s, "/metrics", "module", "http_2xx")
	}
	f.Fuzz(func(t *testing.T, addr, path, pk, pv string) {
		if config.CheckTarget(addr) != nil {
			return
		}
		j := config.ScrapeJobConfig{JobName: "j", Scheme: "http", MetricsPath: "/" + path,
			ScrapeInterval: time.Second, ScrapeTimeout: time.Second, Params: map[string][]string{pk: {pv}}}
		tg, err := newTarget(j, addr, map[string]string{"x": pv})
		if err != nil {
			t.Fatalf("%q: %v", addr, err)
		}
		u, err := url.Parse(tg.URL)
		if err != nil {
			t.Fatalf("%q gave URL %q that does not parse: %v", addr, tg.URL, err)
		}
		if u.Host != addr {
			t.Fatalf("%q gave host %q", addr, u.Host)
		}
		if pk != "" && u.Query().Get(pk) != pv {
			t.Fatalf("param %q=%q came back as %q", pk, pv, u.Query().Get(pk))
		}
		if tg.offset() < 0 || tg.offset() >= time.Second {
			t.Fatalf("offset %s", tg.offset())
		}
	})
}
