// Package bus defines the message bus that connects Osprey's pipeline stages.
//
// A stage publishes batches to a Topic and subscribes a handler to a Topic under
// a consumer group. Every group receives every batch published after it
// subscribed; within a group each batch goes to one subscriber. The in-process
// implementation (bus/inproc) passes batches by reference; a NATS JetStream
// implementation can serialise them (JSON) and replace it without any change to
// the stages, which only use Publish and Subscribe below.
//
// Delivery is in publish order per (topic, group) for a single subscriber. A
// handler's error is counted and logged by the implementation; whether the batch
// is redelivered is the implementation's documented choice.
package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/osprey-aiops/osprey"
)

// ErrClosed is returned by Publish and Subscribe after Shutdown began. While
// the bus drains, a handler's Publish with the ctx it was given is still
// accepted (its batch is part of the flush).
var ErrClosed = errors.New("bus closed")

// ErrFull is returned (wrapped) by Publish when a subscriber's queue stayed full
// for the implementation's publish timeout; the batch was dropped for that
// subscriber and counted.
var ErrFull = errors.New("bus queue full")

// Bus moves batches between stages. Implementations are osprey.Components:
// Shutdown stops accepting publishes, delivers what is queued, and waits for
// handlers to return. Batches that handlers publish with their ctx meanwhile
// are delivered too, so a chain of stages on one bus drains end to end.
type Bus interface {
	osprey.Component
	// PublishRaw enqueues payload on the named topic. Stages call the typed
	// Publish instead. payload is a slice of the topic's element type and
	// belongs to the bus after the call (osprey's ownership rule).
	// PublishRaw blocks while a subscriber's queue is full (backpressure),
	// until ctx is done or the implementation's timeout passes.
	PublishRaw(ctx context.Context, topic string, payload any) error
	// SubscribeRaw registers h for the named topic under group. Stages call
	// the typed Subscribe instead. Subscriptions are made before Start.
	SubscribeRaw(topic, group string, h RawHandler) error
}

// Message is a delivered batch: either the published value itself (in-process)
// or its encoding (across processes).
type Message interface {
	// Value returns the published payload when it did not leave the process.
	Value() (any, bool)
	// Data returns the JSON encoding of the payload.
	Data() ([]byte, error)
}

// RawHandler processes one delivered message.
type RawHandler func(ctx context.Context, m Message) error

// Topic names a stream of batches of T. The set of topics is fixed and listed
// below, so a serialising implementation knows every element type.
type Topic[T any] struct{ name string }

// Name returns the topic's wire name.
func (t Topic[T]) Name() string { return t.name }

// The pipeline's topics.
var (
	Events    = Topic[osprey.Event]{"events"}
	Series    = Topic[osprey.Series]{"series"}
	Logs      = Topic[osprey.LogRecord]{"logs"}
	Spans     = Topic[osprey.Span]{"spans"}
	Anomalies = Topic[osprey.Anomaly]{"anomalies"}
	Incidents = Topic[osprey.Incident]{"incidents"}
)

// Publish enqueues batch on topic t. batch belongs to the bus afterwards.
func Publish[T any](ctx context.Context, b Bus, t Topic[T], batch []T) error {
	if len(batch) == 0 {
		return nil
	}
	return b.PublishRaw(ctx, t.name, batch)
}

// Subscribe registers h for batches of topic t under group. The batch passed to
// h belongs to h.
func Subscribe[T any](b Bus, t Topic[T], group string, h func(ctx context.Context, batch []T) error) error {
	return b.SubscribeRaw(t.name, group, func(ctx context.Context, m Message) error {
		batch, err := decode[T](m)
		if err != nil {
			return osprey.Permanent(fmt.Errorf("decode %s batch: %w", t.name, err))
		}
		return h(ctx, batch)
	})
}

func decode[T any](m Message) ([]T, error) {
	if v, ok := m.Value(); ok {
		batch, ok := v.([]T)
		if !ok {
			return nil, fmt.Errorf("payload is %T, want %T", v, batch)
		}
		return batch, nil
	}
	data, err := m.Data()
	if err != nil {
		return nil, err
	}
	var batch []T
	if err := json.Unmarshal(data, &batch); err != nil {
		return nil, err
	}
	if incs, ok := any(batch).([]osprey.Incident); ok {
		if err := checkMembers(incs); err != nil {
			return nil, err
		}
	}
	return batch, nil
}

// checkMembers rejects a decoded incident with a null member: members are
// pointers (osprey.Incident.Members), and a consumer would dereference it.
func checkMembers(incs []osprey.Incident) error {
	for i := range incs {
		if slices.Contains(incs[i].Members, nil) {
			return fmt.Errorf("incident %q: a member is null", incs[i].ID)
		}
	}
	return nil
}

// EventPublisher returns an osprey.EventConsumer that publishes to Events, so a
// stage that produces events needs no knowledge of the bus.
func EventPublisher(b Bus) osprey.EventConsumer {
	return osprey.EventConsumerFunc(func(ctx context.Context, batch []osprey.Event) error {
		return Publish(ctx, b, Events, batch)
	})
}

// AnomalyPublisher returns an osprey.AnomalyConsumer that publishes to
// Anomalies.
func AnomalyPublisher(b Bus) osprey.AnomalyConsumer {
	return osprey.AnomalyConsumerFunc(func(ctx context.Context, batch []osprey.Anomaly) error {
		return Publish(ctx, b, Anomalies, batch)
	})
}

// IncidentPublisher returns an osprey.IncidentConsumer that publishes to
// Incidents.
func IncidentPublisher(b Bus) osprey.IncidentConsumer {
	return osprey.IncidentConsumerFunc(func(ctx context.Context, batch []osprey.Incident) error {
		return Publish(ctx, b, Incidents, batch)
	})
}
