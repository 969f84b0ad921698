package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/osprey-aiops/osprey"
)

// sender delivers one message to one receiver. An error marked
// osprey.Permanent is not retried; a *retryAfterError asks for a pause.
type sender interface {
	send(ctx context.Context, m *Message) error
}

// HTTPDoer sends HTTP requests; *http.Client is one.
type HTTPDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// userAgent is sent with every HTTP notification.
const userAgent = "osprey-notify"

// maxResponse is how much of an error response is kept for the log.
const maxResponse = 512

// retryAfterError is a retryable failure whose server said when to retry.
type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// newSender builds the sender of receiver r.
func newSender(r Receiver, client HTTPDoer, tlsConfig *tls.Config) (sender, error) {
	ks := r.kinds()
	if len(ks) != 1 {
		return nil, fmt.Errorf("receiver %s: want exactly one kind", r.Name)
	}
	switch ks[0] {
	case kindSlack:
		return &slackSender{cfg: r.Slack, client: client}, nil
	case kindPagerDuty:
		u := r.PagerDuty.URL
		if u == "" {
			u = DefaultPagerDutyURL
		}
		src := r.PagerDuty.Source
		if src == "" {
			src = "osprey"
		}
		return &pagerDutySender{key: r.PagerDuty.RoutingKey, url: u, source: src, client: client}, nil
	case kindEmail:
		return &emailSender{cfg: r.Email, tls: tlsConfig}, nil
	case kindWebhook:
		var t *template.Template
		if r.Webhook.Body != "" {
			var err error
			if t, err = parseBodyTemplate(r.Webhook.Body); err != nil {
				return nil, fmt.Errorf("receiver %s: body: %w", r.Name, err)
			}
		}
		return &webhookSender{url: r.Webhook.URL, headers: r.Webhook.Headers, body: t, client: client}, nil
	case kindAlertmanager:
		return &alertmanagerSender{url: strings.TrimSuffix(r.Alertmanager.URL, "/") + "/api/v2/alerts",
			headers: r.Alertmanager.Headers, client: client}, nil
	}
	return nil, fmt.Errorf("receiver %s: unknown kind %s", r.Name, ks[0])
}

// post sends body as JSON to url and classifies the outcome: 2xx is success;
// 408, 429 and 5xx (and network errors) are retryable; other statuses are
// permanent.
func post(ctx context.Context, client HTTPDoer, url string, headers []Header, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return osprey.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	for _, h := range headers {
		v, err := Secret{Value: h.Value, ValueFile: h.ValueFile}.read()
		if err != nil {
			return fmt.Errorf("header %s: %w", h.Name, err)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return osprey.Permanent(fmt.Errorf("header %s: value has a line break or NUL", h.Name))
		}
		req.Header.Add(h.Name, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(oneLine(string(text))))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && s > 0 {
			return &retryAfterError{err: err, after: time.Duration(s) * time.Second}
		}
		return err
	default:
		return osprey.Permanent(err)
	}
}

// newHTTPClient returns the default client: no redirects (a notification
// goes where the configuration says), the timeout set per attempt by ctx.
func newHTTPClient() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
