package replay

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/notify"
	"github.com/osprey-aiops/osprey/internal/store"
)

// notifyStage is the notification stage of a replay: the production
// notifier with its deliveries captured (rendered, never sent) and its
// scheduler driven in virtual time by the second half of the pipeline.
type notifyStage struct {
	n *notify.Notifier
	// clock is the notifier's: the second half's time, moved further on
	// only by the notifier's own waits (rate limits, backoff), so that a
	// rate-limited notification is stamped when it would have gone out.
	clock *Clock
	// changed is set when the notifier was handed incidents since the
	// last flush (something may be due at once).
	changed bool

	mu   sync.Mutex
	sent []sentNote
	// rows maps incident, receiver and key to the id of the notification
	// log row claimed for it.
	rows map[string]string
}

// notifyStore is the notifier's store: its timeline entries are recorded
// for the report. The notifier's workers (one per receiver) write only
// while the second half waits in Flush, so they need only exclude each
// other.
type notifyStore struct {
	store.Store
	rec   *recorder
	stage *notifyStage
}

func (s *notifyStore) ClaimNotification(ctx context.Context, n store.Notification, staleBefore time.Time) (store.Notification, bool, error) {
	got, ok, err := s.Store.ClaimNotification(ctx, n, staleBefore)
	if err == nil && ok {
		s.stage.mu.Lock()
		s.stage.rows[got.IncidentID+"\x00"+got.Receiver+"\x00"+got.Key] = got.ID
		s.stage.mu.Unlock()
	}
	return got, ok, err
}

func (s *notifyStore) AppendTimeline(ctx context.Context, incidentID string, entries ...osprey.TimelineEntry) error {
	if err := s.Store.AppendTimeline(ctx, incidentID, entries...); err != nil {
		return err
	}
	s.stage.mu.Lock()
	defer s.stage.mu.Unlock()
	s.rec.timeline(incidentID, entries)
	return nil
}

// sentNote is one notification the replay captured.
type sentNote struct {
	at                     time.Time
	receiver, receiverKind string
	kind, key, incident    string
	payload                []byte
}

// newNotifyStage builds the notifier of p's configuration, or returns nil
// when it has no receivers.
func newNotifyStage(p *pipeline, reg prometheus.Registerer, log *slog.Logger) (*notifyStage, error) {
	if len(p.cfg.Notifications.Receivers) == 0 {
		return nil, nil
	}
	s := &notifyStage{clock: &Clock{}, rows: make(map[string]string)}
	n, err := notify.New(notify.Options{
		Config:   p.cfg.Notifications,
		Store:    &notifyStore{Store: p.st.Store, rec: p.rec, stage: s},
		Instance: "replay",
		Now:      s.clock.Now,
		Sleep: func(ctx context.Context, d time.Duration) error {
			// No real wait: the notifier's clock moves on instead.
			s.clock.advance(s.clock.Now().Add(d))
			return ctx.Err()
		},
		Rand:       func() float64 { return 0.5 },
		Tick:       -1,
		Capture:    s.capture,
		Logger:     log.With("component", "notify"),
		Registerer: reg,
	})
	if err != nil {
		return nil, err
	}
	s.n = n
	return s, nil
}

func (s *notifyStage) capture(_ context.Context, c notify.Captured) error {
	m := c.Message
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, sentNote{at: m.At, receiver: c.Receiver, receiverKind: c.ReceiverKind,
		kind: string(m.Kind), key: m.Key, incident: m.Incident.ID, payload: slices.Clone(c.Payload)})
	return nil
}

// runUntil delivers, in virtual time, every notification that falls due
// up to t: at each group_wait, repeat or hold deadline on the way, the
// notifier's clock is set to it and the notifier flushed; then, at t,
// what the incidents handed to it made due at once.
func (s *notifyStage) runUntil(t time.Time) {
	if s == nil {
		return
	}
	for {
		next, ok := s.n.NextDue()
		if !ok || next.After(t) {
			break
		}
		s.clock.advance(next)
		s.n.Flush()
		s.changed = false
	}
	s.clock.advance(t)
	if s.changed {
		s.n.Flush()
		s.changed = false
	}
}

// rowIDs returns the log row ids of the notifications claimed.
func (s *notifyStage) rowIDs() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.rows)
}

// notes returns the notifications captured, in the order delivered.
func (s *notifyStage) notes() []sentNote {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}
