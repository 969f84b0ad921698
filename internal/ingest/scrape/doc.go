// Package scrape is Osprey's Prometheus scraper: it pulls /metrics from
// static targets, as a Prometheus server's scrape_configs would, so that an
// exporter (node_exporter, an application's client_golang registry) can be
// collected without running Prometheus.
//
// # What one scrape does
//
//  1. GET scheme://target/metrics_path?params with the Accept header
//     Prometheus sends (OpenMetrics 1.0 and 0.0.1 first, then the text
//     format 1.0.0 and 0.0.4), gzip accepted, X-Prometheus-Scrape-Timeout-Seconds
//     set, within scrape_timeout. The body may be at most
//     scrape.max_body_bytes once decompressed.
//  2. The body is parsed with Prometheus' own parser
//     (github.com/prometheus/prometheus/model/textparse), chosen by the
//     reply's Content-Type (text/plain as a fallback). Native histograms
//     are not supported and are skipped (counted invalid).
//  3. Every sample gets the target labels: job, instance (the target's
//     host:port) and the static config's labels. When a scraped sample
//     has one of those labels already, honor_labels: false (the default)
//     keeps the target's value and renames the scraped one exported_NAME;
//     honor_labels: true keeps the scraped value. A sample's own timestamp
//     is kept (honor_timestamps); otherwise it is stamped with the scrape's
//     start time.
//  4. Series are checked as remote_write series are (label syntax, at most
//     remote_write.max_labels_per_series labels, names and values at most
//     remote_write.max_label_bytes) and appended to the embedded TSDB
//     (internal/metricstore) in one transaction per scrape; samples the
//     TSDB refuses (out of order, duplicate, too old, cardinality cap) are
//     rejected one by one. A scrape that fails (connection, HTTP status,
//     size, parse error) stores none of its samples, as in Prometheus.
//  5. Series that were in the previous scrape and are missing from this
//     one, and every series of a target whose scrape failed, get
//     Prometheus' staleness marker, so that PromQL stops returning them at
//     once.
//  6. The report series are written for every scrape, as Prometheus writes
//     them: up (1 or 0), scrape_duration_seconds, scrape_samples_scraped,
//     scrape_samples_post_metric_relabeling and scrape_series_added.
//  7. The stored samples (not the staleness markers) are handed to the
//     next stage, the detector, through the same non-blocking hand-off as
//     remote_write.
//
// Each target runs in its own goroutine, started at a fixed offset within
// its interval (a hash of job and URL, as Prometheus spreads its targets),
// on the injected clock. Shutdown cancels the scrapes in flight and waits
// for the loops.
//
// # Data quality
//
// Each scrape that returned a body is one request of receiver "scrape" in
// ingest.Stats (osprey_ingest_*_total, GET /api/v1/status/ingest): samples
// accepted and rejected by reason, a body too large as too_large, an
// unparsable one as malformed. Failed scrapes are also counted in
// osprey_scrape_failures_total{job,reason} and show as up == 0.
package scrape
