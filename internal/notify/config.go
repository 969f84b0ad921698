package notify

import (
	"fmt"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/osprey-aiops/osprey/internal/match"
	"github.com/osprey-aiops/osprey/internal/remediate/action"
)

// FieldError and Errors are the validation problem types shared with the
// remediation section, so that the configuration package re-roots both the
// same way. Paths are relative to the value validated.
type (
	FieldError = action.FieldError
	Errors     = action.Errors
)

// Config is the notifications section of the configuration file. Its types
// use only what the configuration decoder supports (structs, lists, strings,
// integers, booleans, durations), so it can be embedded as it is.
type Config struct {
	// ExternalURL is the base URL people reach Osprey at; messages link to
	// <external_url>/ui/incidents/<id> (the web UI). Empty: no link.
	ExternalURL string `yaml:"external_url"`
	// DefaultReceiver gets the incidents no route matches; empty: those
	// are not notified.
	DefaultReceiver string `yaml:"default_receiver"`
	// GroupWait is how long after an incident opens its first notification
	// waits, so that the signals joining it meanwhile are in one message.
	GroupWait time.Duration `yaml:"group_wait"`
	// RepeatInterval is how often an incident still open is notified
	// again; 0 means never.
	RepeatInterval time.Duration `yaml:"repeat_interval"`
	// Timeout bounds one delivery attempt.
	Timeout time.Duration `yaml:"timeout"`
	// MaxAttempts is how many times a delivery is tried before it is
	// recorded as failed.
	MaxAttempts int `yaml:"max_attempts"`
	// BackoffInitial and BackoffMax bound the pause between attempts,
	// which doubles from the first to the second (with jitter).
	BackoffInitial time.Duration `yaml:"backoff_initial"`
	BackoffMax     time.Duration `yaml:"backoff_max"`
	// RateLimitPerMinute caps each receiver's deliveries; more wait.
	RateLimitPerMinute int `yaml:"rate_limit_per_minute"`
	// Receivers are the destinations, each of exactly one kind.
	Receivers []Receiver `yaml:"receivers"`
	// Routes pick receivers by the incident's labels, severity and status;
	// the first match wins unless it says continue.
	Routes []Route `yaml:"routes"`
}

// DefaultConfig returns the section's defaults: no receivers.
func DefaultConfig() Config {
	return Config{
		GroupWait:          30 * time.Second,
		RepeatInterval:     4 * time.Hour,
		Timeout:            10 * time.Second,
		MaxAttempts:        5,
		BackoffInitial:     time.Second,
		BackoffMax:         time.Minute,
		RateLimitPerMinute: 30,
	}
}

// Receiver is one named destination. Exactly one kind is set.
type Receiver struct {
	// Name identifies the receiver in routes, the log and metrics.
	Name string `yaml:"name"`
	// RateLimitPerMinute overrides the section's rate_limit_per_minute.
	RateLimitPerMinute int `yaml:"rate_limit_per_minute"`

	Slack        SlackConfig        `yaml:"slack"`
	PagerDuty    PagerDutyConfig    `yaml:"pagerduty"`
	Email        EmailConfig        `yaml:"email"`
	Webhook      WebhookConfig      `yaml:"webhook"`
	Alertmanager AlertmanagerConfig `yaml:"alertmanager"`
}

// Secret is a value given literally or, better, as a file read at each use
// (so a rotated secret is picked up). Exactly one is set.
type Secret struct {
	Value     string `yaml:"value"`
	ValueFile string `yaml:"value_file"`
}

// IsZero reports whether neither field is set.
func (s Secret) IsZero() bool { return s.Value == "" && s.ValueFile == "" }

// read returns the secret's value, trimmed of surrounding white space when
// it comes from a file.
func (s Secret) read() (string, error) {
	if s.ValueFile == "" {
		return s.Value, nil
	}
	b, err := os.ReadFile(s.ValueFile)
	if err != nil {
		return "", fmt.Errorf("read value_file: %w", err)
	}
	v := strings.TrimSpace(string(b))
	clear(b)
	if v == "" {
		return "", fmt.Errorf("value_file %s is empty", s.ValueFile)
	}
	return v, nil
}

// SlackConfig posts to a Slack incoming webhook.
type SlackConfig struct {
	// URL is the incoming webhook URL, a secret.
	URL Secret `yaml:"url"`
	// Channel and Username override the webhook's own, when set.
	Channel  string `yaml:"channel"`
	Username string `yaml:"username"`
}

func (c SlackConfig) isZero() bool { return c == SlackConfig{} }

// DefaultPagerDutyURL is the Events API v2 endpoint.
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// PagerDutyConfig sends PagerDuty Events API v2 events.
type PagerDutyConfig struct {
	// RoutingKey is the integration key of a PagerDuty service.
	RoutingKey Secret `yaml:"routing_key"`
	// URL overrides DefaultPagerDutyURL.
	URL string `yaml:"url"`
	// Source is the event's source; default "osprey".
	Source string `yaml:"source"`
}

func (c PagerDutyConfig) isZero() bool { return c == PagerDutyConfig{} }

// STARTTLS modes of the e-mail receiver.
const (
	StartTLSAuto     = "auto"
	StartTLSRequired = "required"
	StartTLSOff      = "off"
)

var startTLSModes = []string{StartTLSAuto, StartTLSRequired, StartTLSOff}

// EmailConfig sends plain-text mail through an SMTP smarthost.
type EmailConfig struct {
	// To lists the recipients' addresses.
	To []string `yaml:"to"`
	// From is the sender address.
	From string `yaml:"from"`
	// Smarthost is the SMTP server's host:port.
	Smarthost string `yaml:"smarthost"`
	// Hello is the name sent in EHLO; default "localhost".
	Hello string `yaml:"hello"`
	// AuthUsername and AuthPassword, when set, authenticate with PLAIN
	// (only over TLS or to localhost).
	AuthUsername string `yaml:"auth_username"`
	AuthPassword Secret `yaml:"auth_password"`
	// StartTLS is auto (use it when offered, the default), required or off.
	StartTLS string `yaml:"starttls"`
}

func (c EmailConfig) isZero() bool {
	return len(c.To) == 0 && c.From == "" && c.Smarthost == "" && c.Hello == "" && c.AuthUsername == "" &&
		c.AuthPassword.IsZero() && c.StartTLS == ""
}

// Header is one request header. Exactly one of Value and ValueFile is set.
type Header struct {
	Name string `yaml:"name"`
	// Value is a literal, non-secret value.
	Value string `yaml:"value"`
	// ValueFile is a file whose content (trimmed) is the value, read at
	// each request.
	ValueFile string `yaml:"value_file"`
}

// WebhookConfig posts a JSON document to a URL.
type WebhookConfig struct {
	URL     string   `yaml:"url"`
	Headers []Header `yaml:"headers"`
	// Body is a Go text/template of the JSON body. Every value it
	// interpolates is written as a JSON value ({{ .Incident.Title }}
	// becomes "the title", quotes included), so no label can break out of
	// its string. Empty: the default document (docs/notifications.md).
	Body string `yaml:"body"`
}

func (c WebhookConfig) isZero() bool { return c.URL == "" && len(c.Headers) == 0 && c.Body == "" }

// AlertmanagerConfig forwards incidents as alerts to an Alertmanager.
type AlertmanagerConfig struct {
	// URL is the Alertmanager's base URL; alerts go to <url>/api/v2/alerts.
	URL     string   `yaml:"url"`
	Headers []Header `yaml:"headers"`
}

func (c AlertmanagerConfig) isZero() bool { return c.URL == "" && len(c.Headers) == 0 }

// Route sends the incidents its matchers select to its receivers.
type Route struct {
	// Matchers select incidents by label (service="checkout"), by
	// severity (severity=~"critical|error") and by status; all must match.
	// None matches every incident.
	Matchers []string `yaml:"matchers"`
	// Receivers are the names of the receivers to notify.
	Receivers []string `yaml:"receivers"`
	// Continue goes on to the next routes after a match.
	Continue bool `yaml:"continue"`
	// GroupWait and RepeatInterval override the section's, when set.
	GroupWait      time.Duration `yaml:"group_wait"`
	RepeatInterval time.Duration `yaml:"repeat_interval"`
}

var receiverNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// kinds lists the kinds the receiver sets; a valid receiver sets one.
func (r Receiver) kinds() []string {
	var ks []string
	if !r.Slack.isZero() {
		ks = append(ks, kindSlack)
	}
	if !r.PagerDuty.isZero() {
		ks = append(ks, kindPagerDuty)
	}
	if !r.Email.isZero() {
		ks = append(ks, kindEmail)
	}
	if !r.Webhook.isZero() {
		ks = append(ks, kindWebhook)
	}
	if !r.Alertmanager.isZero() {
		ks = append(ks, kindAlertmanager)
	}
	return ks
}

// Receiver kinds, as their configuration keys and metric labels.
const (
	kindSlack        = "slack"
	kindPagerDuty    = "pagerduty"
	kindEmail        = "email"
	kindWebhook      = "webhook"
	kindAlertmanager = "alertmanager"
)

var kindKeys = []string{kindSlack, kindPagerDuty, kindEmail, kindWebhook, kindAlertmanager}

// Validate checks the section without touching the file system or the
// network: every receiver, template and matcher, and that routes name
// receivers that exist.
func (c Config) Validate() error {
	var p action.Problems
	if c.ExternalURL != "" {
		if u, err := url.Parse(c.ExternalURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.Addf("external_url", "%q is not an absolute http or https URL", clip(c.ExternalURL))
		}
	}
	if c.GroupWait < 0 {
		p.Addf("group_wait", "must not be negative")
	}
	if c.RepeatInterval < 0 {
		p.Addf("repeat_interval", "must not be negative")
	}
	if c.Timeout <= 0 {
		p.Addf("timeout", "must be positive")
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > 20 {
		p.Addf("max_attempts", "must be between 1 and 20")
	}
	if c.BackoffInitial <= 0 {
		p.Addf("backoff_initial", "must be positive")
	}
	if c.BackoffMax < c.BackoffInitial {
		p.Addf("backoff_max", "must be at least backoff_initial (%s)", c.BackoffInitial)
	}
	if c.RateLimitPerMinute <= 0 {
		p.Addf("rate_limit_per_minute", "must be positive")
	}
	names := make(map[string]int)
	for i, r := range c.Receivers {
		path := action.IndexPath("receivers", i)
		if !receiverNameRE.MatchString(r.Name) {
			p.Addf(path+".name", "%q is not a receiver name (lowercase letters, digits, and _.-, at most 63)", clip(r.Name))
		} else if j, dup := names[r.Name]; dup {
			p.Addf(path+".name", "%q is already used by receivers[%d]", r.Name, j)
		} else {
			names[r.Name] = i
		}
		if r.RateLimitPerMinute < 0 {
			p.Addf(path+".rate_limit_per_minute", "must not be negative")
		}
		p.Nest(path, r.validateKind())
	}
	if c.DefaultReceiver != "" {
		if _, ok := names[c.DefaultReceiver]; !ok {
			p.Addf("default_receiver", "%q is not the name of a receiver", clip(c.DefaultReceiver))
		}
	}
	for i, rt := range c.Routes {
		path := action.IndexPath("routes", i)
		for j, s := range rt.Matchers {
			if _, err := match.Parse(s); err != nil {
				p.Addf(action.IndexPath(path+".matchers", j), "%v", err)
			}
		}
		if len(rt.Receivers) == 0 {
			p.Addf(path+".receivers", "must name at least one receiver")
		}
		for j, name := range rt.Receivers {
			if _, ok := names[name]; !ok {
				p.Addf(action.IndexPath(path+".receivers", j), "%q is not the name of a receiver", clip(name))
			}
		}
		if rt.GroupWait < 0 {
			p.Addf(path+".group_wait", "must not be negative")
		}
		if rt.RepeatInterval < 0 {
			p.Addf(path+".repeat_interval", "must not be negative")
		}
	}
	return p.Err()
}

// validateKind checks that exactly one kind is set and checks it.
func (r Receiver) validateKind() error {
	var p action.Problems
	ks := r.kinds()
	switch {
	case len(ks) == 0:
		p.Addf("", "set one of %s", strings.Join(kindKeys, ", "))
		return p.Err()
	case len(ks) > 1:
		p.Addf("", "sets %s: set exactly one kind", strings.Join(ks, " and "))
		return p.Err()
	}
	switch ks[0] {
	case kindSlack:
		checkSecret(&p, "slack.url", r.Slack.URL, true)
		if r.Slack.URL.Value != "" {
			checkURL(&p, "slack.url.value", r.Slack.URL.Value)
		}
	case kindPagerDuty:
		checkSecret(&p, "pagerduty.routing_key", r.PagerDuty.RoutingKey, true)
		if r.PagerDuty.URL != "" {
			checkURL(&p, "pagerduty.url", r.PagerDuty.URL)
		}
	case kindEmail:
		e := r.Email
		if len(e.To) == 0 {
			p.Addf("email.to", "must list at least one address")
		}
		for i, a := range e.To {
			checkAddress(&p, action.IndexPath("email.to", i), a)
		}
		if e.From == "" {
			p.Addf("email.from", "must be set")
		} else {
			checkAddress(&p, "email.from", e.From)
		}
		if _, port, err := net.SplitHostPort(e.Smarthost); err != nil || port == "" {
			p.Addf("email.smarthost", "%q is not host:port", clip(e.Smarthost))
		}
		if strings.ContainsAny(e.Hello, " \r\n\x00") {
			p.Addf("email.hello", "must be a host name")
		}
		if e.StartTLS != "" && !slices.Contains(startTLSModes, e.StartTLS) {
			p.Addf("email.starttls", "%q is not one of %s", clip(e.StartTLS), strings.Join(startTLSModes, ", "))
		}
		if e.AuthUsername == "" && !e.AuthPassword.IsZero() {
			p.Addf("email.auth_username", "must be set when auth_password is")
		}
		if e.AuthUsername != "" {
			checkSecret(&p, "email.auth_password", e.AuthPassword, true)
		}
	case kindWebhook:
		checkURL(&p, "webhook.url", r.Webhook.URL)
		checkHeaders(&p, "webhook.headers", r.Webhook.Headers)
		if r.Webhook.Body != "" {
			if _, err := parseBodyTemplate(r.Webhook.Body); err != nil {
				p.Addf("webhook.body", "%v", err)
			}
		}
	case kindAlertmanager:
		checkURL(&p, "alertmanager.url", r.Alertmanager.URL)
		checkHeaders(&p, "alertmanager.headers", r.Alertmanager.Headers)
	}
	return p.Err()
}

func checkSecret(p *action.Problems, path string, s Secret, required bool) {
	switch {
	case s.Value != "" && s.ValueFile != "":
		p.Addf(path, "set value or value_file, not both")
	case required && s.IsZero():
		p.Addf(path, "set value or value_file")
	}
}

func checkURL(p *action.Problems, path, s string) {
	if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.Addf(path, "%q is not an absolute http or https URL", clip(s))
	}
}

func checkAddress(p *action.Problems, path, s string) {
	if a, err := mail.ParseAddress(s); err != nil || strings.ContainsAny(s, "\r\n") {
		p.Addf(path, "%q is not an e-mail address", clip(s))
	} else if a.Address == "" {
		p.Addf(path, "must not be empty")
	}
}

func checkHeaders(p *action.Problems, path string, hs []Header) {
	for i, h := range hs {
		hp := action.IndexPath(path, i)
		if !httpguts.ValidHeaderFieldName(h.Name) {
			p.Addf(hp+".name", "%q is not a valid header name", clip(h.Name))
		} else if c := http.CanonicalHeaderKey(h.Name); c == "Host" || c == "Content-Length" || c == "Content-Type" {
			p.Addf(hp+".name", "%s is set by Osprey", c)
		}
		if (h.Value == "") == (h.ValueFile == "") {
			p.Addf(hp, "exactly one of value and value_file must be set")
		}
		if strings.ContainsAny(h.Value, "\r\n\x00") {
			p.Addf(hp+".value", "must not contain line breaks or NUL")
		}
	}
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
