package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey/internal/match"
	"github.com/osprey-aiops/osprey/internal/remediate"
)

// The Validate methods check one value without touching the file system or
// the network, so "osprey check-config" works offline. Each returns nil or an
// Errors of *FieldError whose paths are relative to the value checked:
// ServerConfig.Validate reports "listen: ...", Config.Validate reports
// "server.listen: ...". Secret values (DSNs, hashes) are never quoted in
// messages.

// Accepted values, in the order error messages list them.
var (
	roles     = []string{RoleViewer, RoleOperator, RoleAdmin}
	drivers   = []string{DriverSQLite, DriverPostgres}
	logLevels = []string{"debug", "info", "warn", "error"}
	logFormat = []string{"text", "json"}
)

// Validate checks every section and the rules between them, returning all
// problems with their key paths.
func (c *Config) Validate() error {
	var p problems
	if strings.TrimSpace(c.DataDir) == "" {
		p.addf("data_dir", "must not be empty")
	}
	p.nest("server", c.Server.Validate())
	p.nest("auth", c.Auth.Validate())
	p.nest("storage", c.Storage.Validate())
	p.nest("bus", c.Bus.Validate())
	p.nest("correlate", c.Correlate.Validate())
	p.nest("log", c.Log.Validate())
	p.nest("tsdb", c.TSDB.Validate())
	p.nest("remote_write", c.RemoteWrite.Validate())
	p.nest("detect", c.Detect.Validate())
	p.nest("forecast", c.Forecast.Validate())
	p.nest("query", c.Query.Validate())
	p.nest("loki", c.Loki.Validate())
	p.nest("syslog", c.Syslog.Validate())
	p.nest("logs", c.Logs.Validate())
	p.nest("otlp", c.OTLP.Validate())
	p.nest("scrape", c.Scrape.Validate())
	p.nest("files", ValidateFiles(c.Files))
	p.nest("tail", c.Tail.Validate())
	p.nest("rca", c.RCA.Validate())
	p.nest("topology", c.Topology.Validate())
	p.nest("remediation", fromRemediate(c.Remediation.Validate()))
	receivers := make([]string, 0, len(c.Notifications.Receivers))
	for _, r := range c.Notifications.Receivers {
		receivers = append(receivers, r.Name)
	}
	p.nest("remediation", fromRemediate(c.Remediation.CheckReceivers(receivers)))
	// notify shares remediate's FieldError type, so the same conversion
	// roots its problems under "notifications.".
	p.nest("notifications", fromRemediate(c.Notifications.Validate()))
	if len(c.Auth.Tokens) == 0 {
		if host, _, err := net.SplitHostPort(c.Server.Listen); err == nil && !isLoopback(host) {
			p.addf("server.listen", "%q is not a loopback address and auth.tokens is empty: "+
				"an API without tokens may only listen on loopback (127.0.0.1, ::1 or localhost)", c.Server.Listen)
		}
		if host, _, err := net.SplitHostPort(c.OTLP.GRPCListen); err == nil && !isLoopback(host) {
			p.addf("otlp.grpc_listen", "%q is not a loopback address and auth.tokens is empty: "+
				"OTLP/gRPC without tokens may only listen on loopback (127.0.0.1, ::1 or localhost)", c.OTLP.GRPCListen)
		}
	}
	return p.err()
}

// Validate checks the listen address, limits and timeouts.
func (c ServerConfig) Validate() error {
	var p problems
	if err := checkListen(c.Listen); err != nil {
		p.addf("listen", "%v", err)
	}
	positive(&p, "max_body_bytes", c.MaxBodyBytes)
	positive(&p, "max_events_per_request", c.MaxEventsPerRequest)
	positive(&p, "max_labels_per_event", c.MaxLabelsPerEvent)
	positive(&p, "max_label_value_bytes", c.MaxLabelValueBytes)
	positive(&p, "read_timeout", c.ReadTimeout)
	positive(&p, "write_timeout", c.WriteTimeout)
	positive(&p, "shutdown_timeout", c.ShutdownTimeout)
	return p.err()
}

// checkListen checks a host:port listen address. The host may be empty (all
// interfaces), an IP address or a host name; the port must be a number, and
// 0 picks a free port.
func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || port != strconv.FormatUint(n, 10) {
		return fmt.Errorf("%q: port %q is not a number from 0 to 65535", addr, port)
	}
	if host != "" && net.ParseIP(host) == nil && !isHostname(host) {
		return fmt.Errorf("%q: %q is neither an IP address nor a host name", addr, host)
	}
	return nil
}

// isHostname reports whether s is a syntactically valid DNS host name.
func isHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c == '-' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
				return false
			}
		}
	}
	return true
}

// isLoopback reports whether a listen host only accepts local connections.
func isLoopback(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Validate checks each token and that names, files and hashes are not used
// twice. It does not read token files: that is Hash's job.
func (c AuthConfig) Validate() error {
	var p problems
	names := make(map[string]int)
	files := make(map[string]int)
	hashes := make(map[string]int)
	for i, t := range c.Tokens {
		path := indexPath("tokens", i)
		p.nest(path, t.Validate())
		if t.Name != "" {
			if j, dup := names[t.Name]; dup {
				p.addf(path+".name", "%q is already used by tokens[%d]", t.Name, j)
			} else {
				names[t.Name] = i
			}
		}
		if t.TokenFile != "" {
			if j, dup := files[t.TokenFile]; dup {
				p.addf(path+".token_file", "%q is already used by tokens[%d]", t.TokenFile, j)
			} else {
				files[t.TokenFile] = i
			}
		}
		if h := strings.ToLower(strings.TrimSpace(t.SHA256)); h != "" {
			if j, dup := hashes[h]; dup {
				p.addf(path+".sha256", "same hash as tokens[%d]", j)
			} else {
				hashes[h] = i
			}
		}
	}
	return p.err()
}

// Validate checks the token's name and role and that exactly one of
// token_file and sha256 is set, sha256 as 64 hex digits.
func (t TokenConfig) Validate() error {
	var p problems
	if strings.TrimSpace(t.Name) == "" {
		p.addf("name", "must not be empty")
	}
	oneOf(&p, "role", t.Role, roles)
	switch {
	case (t.TokenFile == "") == (t.SHA256 == ""):
		p.addf("", "exactly one of token_file and sha256 must be set")
	case t.SHA256 != "":
		// The value is not quoted: a plaintext token pasted here by
		// mistake must not end up in logs.
		switch h := strings.TrimSpace(t.SHA256); {
		case !isHex(h):
			p.addf("sha256", "must be the 64 hex digits of the token's SHA-256, got characters that are not hex digits")
		case len(h) != 64:
			p.addf("sha256", "must be the 64 hex digits of the token's SHA-256, got %d digits", len(h))
		}
	}
	return p.err()
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// Validate checks the driver and the section of the selected driver; the
// other driver's section is ignored.
func (c StorageConfig) Validate() error {
	var p problems
	switch c.Driver {
	case DriverSQLite:
		p.nest("sqlite", c.SQLite.Validate())
	case DriverPostgres:
		p.nest("postgres", c.Postgres.validate(" when storage.driver is postgres"))
	default:
		oneOf(&p, "driver", c.Driver, drivers)
	}
	p.nest("retention", c.Retention.Validate())
	return p.err()
}

// Validate checks that the interval is positive and no duration is
// negative.
func (c RetentionConfig) Validate() error {
	var p problems
	positive(&p, "interval", c.Interval)
	for _, f := range []struct {
		key string
		d   time.Duration
	}{
		{"events", c.Events}, {"anomalies", c.Anomalies}, {"incidents", c.Incidents},
		{"noise", c.Noise}, {"audit", c.Audit}, {"silences", c.Silences},
	} {
		if f.d < 0 {
			p.addf(f.key, "%s is negative; use 0 to keep forever", f.d)
		}
	}
	return p.err()
}

// Validate checks that the database path is set.
func (c SQLiteConfig) Validate() error {
	var p problems
	if strings.TrimSpace(c.Path) == "" {
		p.addf("path", "must not be empty")
	}
	return p.err()
}

// Validate checks that exactly one of dsn and dsn_file is set, that schema
// is a plain SQL identifier and that max_conns is positive. It does not read
// dsn_file: that is Config.PostgresDSN's job.
func (c PostgresConfig) Validate() error {
	return c.validate("")
}

// validate is Validate with when appended to the message about dsn and
// dsn_file, which StorageConfig uses to say why the section is required.
func (c PostgresConfig) validate(when string) error {
	var p problems
	if (strings.TrimSpace(c.DSN) == "") == (strings.TrimSpace(c.DSNFile) == "") {
		p.addf("", "exactly one of dsn and dsn_file must be set%s", when)
	}
	if !isSQLIdent(c.Schema) {
		p.addf("schema", "%q is not a valid schema name (want lowercase letters, digits and _, "+
			"not starting with a digit, at most 63 characters)", clip(c.Schema))
	}
	positive(&p, "max_conns", c.MaxConns)
	return p.err()
}

// isSQLIdent reports whether s is an identifier PostgreSQL takes unquoted and
// unchanged: lowercase, so that it never needs quoting and cannot inject SQL.
func isSQLIdent(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Validate checks that the queue size, publish timeout and events
// coalesced are positive.
func (c BusConfig) Validate() error {
	var p problems
	positive(&p, "queue_size", c.QueueSize)
	positive(&p, "publish_timeout", c.PublishTimeout)
	positive(&p, "coalesce_events", c.CoalesceEvents)
	return p.err()
}

// Validate checks that the window is positive, that group_by lists at
// least one label name, each valid and listed once, that resolve_grace and
// burst are not negative, and that every inhibition rule has valid source and target
// matchers and equal label names.
func (c CorrelateConfig) Validate() error {
	var p problems
	positive(&p, "window", c.Window)
	if c.ResolveGrace < 0 {
		p.addf("resolve_grace", "must not be negative, got %s", c.ResolveGrace)
	}
	if c.Similarity < 0 || c.Similarity > 1 {
		p.addf("similarity", "must be from 0 (off) to 1, got %v", c.Similarity)
	}
	if c.Burst < 0 {
		p.addf("burst", "must not be negative, got %s", c.Burst)
	}
	for i, r := range c.Inhibit {
		path := indexPath("inhibit", i)
		for _, part := range []struct {
			key string
			ms  []string
		}{{"source", r.Source}, {"target", r.Target}} {
			if len(part.ms) == 0 {
				p.addf(path+"."+part.key, "must list at least one matcher, such as alertname=\"NodeDown\"")
			}
			for j, s := range part.ms {
				if _, err := match.Parse(s); err != nil {
					p.addf(indexPath(path+"."+part.key, j), "%v", err)
				}
			}
		}
		for j, name := range r.Equal {
			if !isLabelName(name) {
				p.addf(indexPath(path+".equal", j), "%q is not a valid label name (want letters, digits and _, not starting with a digit)", clip(name))
			}
		}
	}
	if len(c.GroupBy) == 0 {
		p.addf("group_by", "must list at least one label name")
	}
	seen := make(map[string]int)
	for i, name := range c.GroupBy {
		path := indexPath("group_by", i)
		if !isLabelName(name) {
			p.addf(path, "%q is not a valid label name (want letters, digits and _, not starting with a digit)", clip(name))
			continue
		}
		if j, dup := seen[name]; dup {
			p.addf(path, "%q is already listed as group_by[%d]", name, j)
			continue
		}
		seen[name] = i
	}
	c.validateExtensions(&p)
	return p.err()
}

// isLabelName reports whether s is a Prometheus label name.
func isLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Validate checks the level and format names.
func (c LogConfig) Validate() error {
	var p problems
	oneOf(&p, "level", c.Level, logLevels)
	oneOf(&p, "format", c.Format, logFormat)
	return p.err()
}

// Validate checks the path and that retention, max_series and
// max_series_per_metric are positive.
func (c TSDBConfig) Validate() error {
	var p problems
	if strings.TrimSpace(c.Path) == "" {
		p.addf("path", "must not be empty")
	}
	positive(&p, "retention", c.Retention)
	if c.Retention > 0 && c.Retention < 2*time.Hour {
		p.addf("retention", "%s is shorter than the TSDB's 2h head block; use at least 2h", c.Retention)
	}
	positive(&p, "max_series", c.MaxSeries)
	positive(&p, "max_series_per_metric", c.MaxSeriesPerMetric)
	return p.err()
}

// Validate checks that every limit is positive.
func (c RemoteWriteConfig) Validate() error {
	var p problems
	positive(&p, "max_decoded_bytes", c.MaxDecodedBytes)
	positive(&p, "max_labels_per_series", c.MaxLabelsPerSeries)
	positive(&p, "max_label_bytes", c.MaxLabelBytes)
	positive(&p, "max_future", c.MaxFuture)
	positive(&p, "max_cached_series", c.MaxCachedSeries)
	return p.err()
}

// Validate checks that max_series and snapshot_interval are positive.
func (c DetectConfig) Validate() error {
	var p problems
	positive(&p, "max_series", c.MaxSeries)
	positive(&p, "snapshot_interval", c.SnapshotInterval)
	p.nest("traces", c.Traces.Validate())
	return p.err()
}

// Validate checks that every limit is positive.
func (c QueryConfig) Validate() error {
	var p problems
	positive(&p, "timeout", c.Timeout)
	positive(&p, "max_samples", c.MaxSamples)
	positive(&p, "lookback_delta", c.LookbackDelta)
	positive(&p, "max_concurrent", c.MaxConcurrent)
	return p.err()
}

// Validate checks that every limit is positive.
func (c LokiConfig) Validate() error {
	var p problems
	positive(&p, "max_line_bytes", c.MaxLineBytes)
	positive(&p, "max_decoded_bytes", c.MaxDecodedBytes)
	return p.err()
}

// Validate checks every address (host:port, each listed once per
// transport), that every limit is positive and that the RFC 3164 time zone
// is known. Loading the zone reads the system's zone database (or Go's
// embedded copy), not the network.
func (c SyslogConfig) Validate() error {
	var p problems
	for _, l := range []struct {
		key   string
		addrs []string
	}{{"udp", c.UDP}, {"tcp", c.TCP}} {
		seen := make(map[string]int)
		for i, addr := range l.addrs {
			path := indexPath(l.key, i)
			if err := checkListen(addr); err != nil {
				p.addf(path, "%v", err)
				continue
			}
			if j, dup := seen[addr]; dup {
				p.addf(path, "%q is already listed as %s", addr, indexPath(l.key, j))
				continue
			}
			seen[addr] = i
		}
	}
	positive(&p, "max_message_bytes", c.MaxMessageBytes)
	positive(&p, "max_connections", c.MaxConnections)
	positive(&p, "idle_timeout", c.IdleTimeout)
	positive(&p, "batch_size", c.BatchSize)
	positive(&p, "flush_interval", c.FlushInterval)
	if strings.TrimSpace(c.RFC3164Timezone) == "" {
		p.addf("rfc3164_timezone", "must not be empty (use Local or UTC)")
	} else if _, err := time.LoadLocation(c.RFC3164Timezone); err != nil {
		p.addf("rfc3164_timezone", "%q is not a known time zone (want an IANA name such as Europe/Berlin, or Local, or UTC)", clip(c.RFC3164Timezone))
	}
	return p.err()
}

// Validate checks the gRPC address (when set) and that the size limit is
// positive.
func (c OTLPConfig) Validate() error {
	var p problems
	if c.GRPCListen != "" {
		if err := checkListen(c.GRPCListen); err != nil {
			p.addf("grpc_listen", "%v", err)
		}
	}
	positive(&p, "max_decoded_bytes", c.MaxDecodedBytes)
	p.nest("recent_spans", c.RecentSpans.Validate())
	return p.err()
}

// Validate checks that the caps, the save interval and the bucket are
// positive and the warm-up is not negative.
func (c LogsConfig) Validate() error {
	var p problems
	positive(&p, "max_templates_per_source", c.MaxTemplatesPerSource)
	positive(&p, "save_interval", c.SaveInterval)
	if c.Bucket < time.Second {
		p.addf("bucket", "must be at least 1s, got %s", c.Bucket)
	}
	if c.NewTemplateWarmup < 0 {
		p.addf("new_template_warmup", "must not be negative, got %s", c.NewTemplateWarmup)
	}
	if c.NewTemplateWarmupLines < 0 {
		p.addf("new_template_warmup_lines", "must not be negative, got %d", c.NewTemplateWarmupLines)
	}
	positive(&p, "max_template_series", c.MaxTemplateSeries)
	p.nest("recent", c.Recent.Validate())
	return p.err()
}

// fromRemediate converts the problems of remediate.Config.Validate, each a
// *remediate.FieldError inside a remediate.Errors (or an errors.Join), into an
// Errors of *FieldError with the same relative paths, so that nest roots them
// under "remediation." and Parse gives them lines.
func fromRemediate(err error) error {
	if err == nil {
		return nil
	}
	var p problems
	var walk func(err error)
	walk = func(err error) {
		if fe, ok := err.(*remediate.FieldError); ok {
			p.errs = append(p.errs, &FieldError{Path: fe.Path, Err: fe.Err})
			return
		}
		if list, ok := joined(err); ok {
			for _, e := range list {
				walk(e)
			}
			return
		}
		p.errs = append(p.errs, &FieldError{Err: err})
	}
	walk(err)
	return p.err()
}

// joined returns the errors of a list of problems: a remediate.Errors, or an
// errors.Join (recognised by its message, so that an error wrapping several
// with its own text is kept whole).
func joined(err error) ([]error, bool) {
	if list, ok := err.(remediate.Errors); ok {
		return list, true
	}
	u, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return nil, false
	}
	list := u.Unwrap()
	msgs := make([]string, 0, len(list))
	for _, e := range list {
		msgs = append(msgs, e.Error())
	}
	return list, err.Error() == strings.Join(msgs, "\n")
}

// positive records a problem at path unless v > 0.
func positive[T int | int64 | time.Duration](p *problems, path string, v T) {
	if v > 0 {
		return
	}
	if d, ok := any(v).(time.Duration); ok {
		p.addf(path, "must be positive, got %s", d)
		return
	}
	p.addf(path, "must be positive, got %d", v)
}

// oneOf records a problem at path unless v is one of allowed.
func oneOf(p *problems, path, v string, allowed []string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	p.addf(path, "%q is not one of %s", clip(v), strings.Join(allowed, ", "))
}
