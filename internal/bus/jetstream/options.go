package jetstream

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for the zero values of Options.
const (
	DefaultURL           = nats.DefaultURL
	DefaultStream        = "OSPREY"
	DefaultSubjectPrefix = "osprey"
	DefaultMaxAge        = 24 * time.Hour
	DefaultMaxBytes      = 1 << 30
	DefaultAckWait       = 30 * time.Second
	DefaultMaxDeliver    = 10
	DefaultMaxAckPending = 1024
)

// Options configures a Bus. The zero value connects to a local server with
// the defaults above.
type Options struct {
	// URL is the NATS server URL, or several separated by commas. Empty
	// means DefaultURL.
	URL string
	// Stream is the JetStream stream's name. Empty means DefaultStream.
	Stream string
	// SubjectPrefix is prepended to topic names to make subjects; it may
	// have several tokens ("prod.osprey"). Empty means DefaultSubjectPrefix.
	// Two deployments sharing a server need different streams and prefixes.
	SubjectPrefix string
	// Replicas is the stream's number of replicas (1 to 5). Zero means 1.
	Replicas int
	// MaxAge is how long a batch is kept at most, acknowledged or not. Zero
	// means DefaultMaxAge; negative means no limit.
	MaxAge time.Duration
	// MaxBytes bounds the stream's size; when it is reached publishes fail
	// with bus.ErrFull. Zero means DefaultMaxBytes; negative means no limit
	// (the server's storage limits still apply).
	MaxBytes int64
	// AckWait is how long JetStream waits for a handler's result before it
	// delivers the batch again. Zero means DefaultAckWait.
	AckWait time.Duration
	// MaxDeliver is how many times a batch is delivered before it is given
	// up (terminated). Zero means DefaultMaxDeliver.
	MaxDeliver int
	// MaxAckPending bounds the batches a group has delivered and not yet
	// acknowledged, over all its members. Zero means DefaultMaxAckPending.
	MaxAckPending int
	// Coalesce names the topics whose fetched batches a subscriber
	// delivers as one, and the most elements it gathers: the delivery loop
	// that takes a batch also takes the batches fetched and waiting behind
	// it, while they are there and the elements so far are fewer than the
	// limit, and hands the JSON array of all their elements to the handler
	// in one call (see "Coalescing" in the package documentation). Zero or
	// less, or a topic not named, means batch by batch. Only for topics
	// whose handlers treat a batch as a sequence of independent elements.
	Coalesce map[string]int
	// Registerer receives the bus's metrics. Nil means a fresh registry that
	// nobody gathers. Two buses on one Registerer need
	// prometheus.WrapRegistererWith.
	Registerer prometheus.Registerer
	// Logger receives connection events and handler errors. Nil means
	// discard.
	Logger *slog.Logger
}

// withDefaults returns o with zero values replaced by defaults, or every
// problem with o.
func (o Options) withDefaults() (Options, error) {
	if o.URL == "" {
		o.URL = DefaultURL
	}
	if o.Stream == "" {
		o.Stream = DefaultStream
	}
	if o.SubjectPrefix == "" {
		o.SubjectPrefix = DefaultSubjectPrefix
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.MaxAge == 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.AckWait == 0 {
		o.AckWait = DefaultAckWait
	}
	if o.MaxDeliver == 0 {
		o.MaxDeliver = DefaultMaxDeliver
	}
	if o.MaxAckPending == 0 {
		o.MaxAckPending = DefaultMaxAckPending
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}

	var errs []error
	if !validName(o.Stream) {
		errs = append(errs, fmt.Errorf("stream %q: a name has no whitespace, '.', '*', '>', '/' or '\\'", o.Stream))
	}
	for tok := range strings.SplitSeq(o.SubjectPrefix, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n") {
			errs = append(errs, fmt.Errorf("subject prefix %q: want dot-separated tokens without wildcards or whitespace", o.SubjectPrefix))
			break
		}
	}
	if o.Replicas < 1 || o.Replicas > 5 {
		errs = append(errs, fmt.Errorf("replicas %d: want 1 to 5", o.Replicas))
	}
	if o.AckWait < 0 {
		errs = append(errs, fmt.Errorf("ack wait %s: must not be negative", o.AckWait))
	}
	if o.MaxDeliver < 0 {
		errs = append(errs, fmt.Errorf("max deliver %d: must not be negative", o.MaxDeliver))
	}
	if o.MaxAckPending < 0 {
		errs = append(errs, fmt.Errorf("max ack pending %d: must not be negative", o.MaxAckPending))
	}
	if err := errors.Join(errs...); err != nil {
		return o, fmt.Errorf("jetstream options: %w", err)
	}
	return o, nil
}
