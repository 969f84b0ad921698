package alerts

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/auth"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/ingest"
)

// Route patterns.
const (
	RouteAlertmanagerV2      = "POST /api/v2/alerts"
	RouteAlertmanagerWebhook = "POST /api/v1/alerts/alertmanager"
	RouteGrafanaWebhook      = "POST /api/v1/alerts/grafana"
	// RouteGrafanaWebhookPut serves Grafana contact points set to the PUT
	// method.
	RouteGrafanaWebhookPut = "PUT /api/v1/alerts/grafana"
)

// Receiver names in ingest.Stats.
const (
	ReceiverAlertmanagerV2      = "alertmanager_v2"
	ReceiverAlertmanagerWebhook = "alertmanager_webhook"
	ReceiverGrafanaWebhook      = "grafana_webhook"
)

// Sources of the webhook events.
const (
	sourceAlertmanager = "alertmanager"
	sourceGrafana      = "grafana"
)

// maxListedErrors bounds how many rejected alerts the summary line of an
// error reply names; the reply's rejected list has them all.
const maxListedErrors = 3

// Options configure the receivers. Events is required.
type Options struct {
	// Events commits each batch and hands it to the pipeline: the
	// ingest.Committer shared with POST /api/v1/events. A nil error must
	// mean the batch is durable, since the sender is then told so.
	Events osprey.EventConsumer
	// Stats receives the data-quality counts; nil means a private Stats.
	Stats *ingest.Stats
	// Limits bound request sizes and each alert, as for POST
	// /api/v1/events; zero fields take config.Default's values.
	Limits config.ServerConfig
	// Now is the clock for receive times; default time.Now.
	Now func() time.Time
	// Logger receives store failures; default discards.
	Logger *slog.Logger
}

// Receivers serves the alert routes. It is safe for concurrent use.
type Receivers struct {
	events osprey.EventConsumer
	limits config.ServerConfig
	now    func() time.Time
	log    *slog.Logger

	v2, webhook, grafana *ingest.Receiver
}

// New returns the alert receivers.
func New(opts Options) (*Receivers, error) {
	if opts.Events == nil {
		return nil, errors.New("alerts: no event consumer")
	}
	limits, err := ingest.WithDefaults(opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	stats := opts.Stats
	if stats == nil {
		stats = ingest.NewStats()
	}
	r := &Receivers{
		events:  opts.Events,
		limits:  limits,
		now:     opts.Now,
		log:     opts.Logger,
		v2:      stats.Receiver(ReceiverAlertmanagerV2),
		webhook: stats.Receiver(ReceiverAlertmanagerWebhook),
		grafana: stats.Receiver(ReceiverGrafanaWebhook),
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r, nil
}

// Routes returns the routes to mount, each for the operator role (senders
// post alerts, which is an operator's right).
func (r *Receivers) Routes() []ingest.Route {
	grafana := r.handler(r.grafana, func(*http.Request) string { return sourceGrafana }, decodeGrafana, replyIDs)
	return []ingest.Route{
		{Pattern: RouteAlertmanagerV2, Role: auth.RoleOperator, Receiver: r.v2,
			Handler: r.handler(r.v2, func(req *http.Request) string { return v2Source(req.UserAgent()) }, decodeV2, replyEmpty)},
		{Pattern: RouteAlertmanagerWebhook, Role: auth.RoleOperator, Receiver: r.webhook,
			Handler: r.handler(r.webhook, func(*http.Request) string { return sourceAlertmanager }, decodeWebhook, replyIDs)},
		{Pattern: RouteGrafanaWebhook, Role: auth.RoleOperator, Receiver: r.grafana, Handler: grafana},
		{Pattern: RouteGrafanaWebhookPut, Role: auth.RoleOperator, Receiver: r.grafana, Handler: grafana},
	}
}

// decodeFunc decodes one format's body.
type decodeFunc func(body []byte, c *converter) (*batch, *requestError)

// handler returns the HTTP handler of one format: read and decode the body,
// commit the valid alerts, count everything, reply.
func (r *Receivers) handler(recv *ingest.Receiver, source func(*http.Request) string, decode decodeFunc,
	reply func(http.ResponseWriter, []string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, rerr := r.readBody(w, req)
		if rerr != nil {
			r.refuse(w, recv, rerr)
			return
		}
		c := &converter{lim: &r.limits, now: r.now(), source: source(req)}
		b, rerr := decode(body, c)
		if rerr != nil {
			r.refuse(w, recv, rerr)
			return
		}
		for _, e := range b.rejected {
			recv.Rejected(e.Reason, 1)
		}
		// Alerts the sender left out are lost whatever happens next.
		recv.Warned(ingest.WarnTruncated, b.truncated)
		// The IDs are read before the hand-off: the consumer owns the
		// events after.
		ids := make([]string, len(b.events))
		for i := range b.events {
			ids[i] = b.events[i].ID
		}
		if len(b.events) > 0 {
			if err := r.events.ConsumeEvents(req.Context(), b.events); err != nil {
				recv.Rejected(ingest.ReasonStore, len(ids))
				recv.Done(0, len(ids)+len(b.rejected))
				r.log.Error("store alerts", "receiver", recv.Name(), "alerts", len(ids), "err", err)
				code := http.StatusServiceUnavailable
				if osprey.IsPermanent(err) {
					code = http.StatusInternalServerError
				}
				ingest.WriteError(w, code, "store alerts: storage is unavailable, nothing was accepted; retry", -1)
				return
			}
		}
		recv.Done(len(ids), len(b.rejected))
		recv.Warned(ingest.WarnUnknownSeverity, b.unknownSeverity)
		if len(b.rejected) > 0 {
			r.log.Debug("rejected alerts", "receiver", recv.Name(), "rejected", len(b.rejected), "stored", len(ids))
			ingest.WriteJSON(w, http.StatusBadRequest, partialReply(b.rejected, ids))
			return
		}
		reply(w, ids)
	})
}

// readBody reads the request body within the size limit.
func (r *Receivers) readBody(w http.ResponseWriter, req *http.Request) ([]byte, *requestError) {
	if err := ingest.CheckContentType(req.Header.Get("Content-Type")); err != nil {
		return nil, &requestError{code: http.StatusUnsupportedMediaType, reason: ingest.ReasonMediaType, msg: err.Error()}
	}
	if ce := req.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return nil, &requestError{code: http.StatusUnsupportedMediaType, reason: ingest.ReasonMediaType,
			msg: fmt.Sprintf("Content-Encoding %q is not supported: send the body uncompressed", ingest.Truncate(ce, 32))}
	}
	limit := r.limits.MaxBodyBytes
	tooLarge := &requestError{code: http.StatusRequestEntityTooLarge, reason: ingest.ReasonTooLarge,
		msg: fmt.Sprintf("request body larger than %d bytes: send smaller batches", limit)}
	if req.ContentLength > limit {
		return nil, tooLarge
	}
	// Size the buffer from Content-Length, so a normal body is read with
	// one allocation.
	size := int64(bytes.MinRead)
	if req.ContentLength > 0 {
		size = req.ContentLength + 1 // +1: ReadFrom wants room to see EOF
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, req.Body, limit)); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		return nil, malformed("read body: %v", err)
	}
	return buf.Bytes(), nil
}

// refuse replies to a request refused as a whole, and counts it.
func (r *Receivers) refuse(w http.ResponseWriter, recv *ingest.Receiver, e *requestError) {
	recv.RejectRequest(e.reason)
	r.log.Debug("refused alerts request", "receiver", recv.Name(), "reason", e.reason, "err", e.msg)
	ingest.WriteError(w, e.code, e.msg, -1)
}

// partialBody is the 400 reply to a request of which some alerts were
// rejected: the API's error shape ("error", and "index" of the first
// rejected alert), every rejected alert, and the ids of the alerts stored.
type partialBody struct {
	Error    string      `json:"error"`
	Index    int         `json:"index"`
	Rejected []itemError `json:"rejected"`
	IDs      []string    `json:"ids"`
}

func partialReply(rejected []itemError, ids []string) partialBody {
	var msg strings.Builder
	fmt.Fprintf(&msg, "%d of %d alerts rejected, %d stored: ", len(rejected), len(rejected)+len(ids), len(ids))
	for i, e := range rejected {
		if i == maxListedErrors {
			fmt.Fprintf(&msg, "; and %d more", len(rejected)-i)
			break
		}
		if i > 0 {
			msg.WriteString("; ")
		}
		msg.WriteString(e.Error)
	}
	return partialBody{Error: msg.String(), Index: rejected[0].Index, Rejected: rejected, IDs: ids}
}

// replyEmpty is the Alertmanager API v2 success reply: 200, no body.
func replyEmpty(w http.ResponseWriter, _ []string) {
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// idsResponse is the webhooks' success reply, as POST /api/v1/events'.
type idsResponse struct {
	IDs []string `json:"ids"`
}

// replyIDs is the webhooks' success reply: 202 with the ids of the stored
// events, as POST /api/v1/events replies.
func replyIDs(w http.ResponseWriter, ids []string) {
	ingest.WriteJSON(w, http.StatusAccepted, idsResponse{IDs: ids})
}
