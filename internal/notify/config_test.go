package notify

import (
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	good := func() Config {
		cfg := DefaultConfig()
		cfg.ExternalURL = "https://osprey.example.com"
		cfg.Receivers = []Receiver{
			{Name: "slack", Slack: SlackConfig{URL: Secret{ValueFile: "/run/secrets/slack"}}},
			{Name: "pd", PagerDuty: PagerDutyConfig{RoutingKey: Secret{Value: "k"}}},
			{Name: "mail", Email: EmailConfig{To: []string{"ops@example.com"}, From: "osprey@example.com", Smarthost: "smtp:587", StartTLS: "required",
				AuthUsername: "u", AuthPassword: Secret{ValueFile: "/run/secrets/smtp"}}},
			{Name: "hook", Webhook: WebhookConfig{URL: "https://h.example.com", Headers: []Header{{Name: "Authorization", ValueFile: "/f"}}, Body: `{"t": {{ .Subject }}}`}},
			{Name: "am", Alertmanager: AlertmanagerConfig{URL: "http://am:9093"}},
		}
		cfg.Routes = []Route{{Matchers: []string{"service=checkout", `severity=~"critical|error"`}, Receivers: []string{"pd", "slack"}, Continue: true, GroupWait: time.Minute}}
		cfg.DefaultReceiver = "mail"
		return cfg
	}
	if err := good().Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	cases := []struct {
		name   string
		change func(*Config)
		want   []string
	}{
		{"no kind", func(c *Config) { c.Receivers[0].Slack = SlackConfig{} }, []string{"receivers[0]: set one of slack, pagerduty, email, webhook, alertmanager"}},
		{"two kinds", func(c *Config) { c.Receivers[1].Slack.URL.Value = "https://x" }, []string{"receivers[1]: sets slack and pagerduty"}},
		{"duplicate name", func(c *Config) { c.Receivers[1].Name = "slack" }, []string{`receivers[1].name: "slack" is already used`}},
		{"bad name", func(c *Config) { c.Receivers[0].Name = "Slack Ops"; c.Routes = nil }, []string{"receivers[0].name"}},
		{"secret both", func(c *Config) { c.Receivers[0].Slack.URL.Value = "https://x" }, []string{"receivers[0].slack.url: set value or value_file, not both"}},
		{"pd key missing", func(c *Config) { c.Receivers[1].PagerDuty.RoutingKey = Secret{}; c.Receivers[1].PagerDuty.Source = "s" }, []string{"receivers[1].pagerduty.routing_key"}},
		{"mail", func(c *Config) {
			c.Receivers[2].Email.To = []string{"nope"}
			c.Receivers[2].Email.Smarthost = "smtp"
			c.Receivers[2].Email.StartTLS = "maybe"
		}, []string{"receivers[2].email.to[0]", "receivers[2].email.smarthost", "receivers[2].email.starttls"}},
		{"template", func(c *Config) { c.Receivers[3].Webhook.Body = `{"t": {{ .Subject }` }, []string{"receivers[3].webhook.body"}},
		{"header", func(c *Config) { c.Receivers[3].Webhook.Headers = []Header{{Name: "Content-Type", Value: "x"}} }, []string{"receivers[3].webhook.headers[0].name: Content-Type is set by Osprey"}},
		{"url", func(c *Config) { c.Receivers[4].Alertmanager.URL = "am:9093" }, []string{"receivers[4].alertmanager.url"}},
		{"matcher", func(c *Config) { c.Routes[0].Matchers[1] = "severity=~(" }, []string{"routes[0].matchers[1]"}},
		{"unknown receiver", func(c *Config) { c.Routes[0].Receivers[1] = "nobody"; c.DefaultReceiver = "x" },
			[]string{`routes[0].receivers[1]: "nobody" is not the name of a receiver`, `default_receiver: "x"`}},
		{"timings", func(c *Config) {
			c.Timeout = 0
			c.MaxAttempts = 0
			c.BackoffMax = time.Millisecond
			c.RateLimitPerMinute = 0
			c.GroupWait = -1
		},
			[]string{"timeout", "max_attempts", "backoff_max", "rate_limit_per_minute", "group_wait"}},
		{"external url", func(c *Config) { c.ExternalURL = "osprey.example.com" }, []string{"external_url"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good()
			tc.change(&cfg)
			err := cfg.Validate()
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
