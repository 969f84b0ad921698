package jetstream

import (
	"fmt"
	"runtime/debug"

	"github.com/osprey-aiops/osprey/internal/bus"
)

// message is one delivered batch: its JSON encoding as stored in the stream.
type message struct{ data []byte }

var _ bus.Message = message{}

// Value reports false: a batch from JetStream exists only as its encoding.
func (message) Value() (any, bool) { return nil, false }

// Data returns the JSON encoding of the batch.
func (m message) Data() ([]byte, error) { return m.data, nil }

// panicError is a recovered handler panic.
type panicError struct {
	value any
	stack []byte
}

func newPanicError(v any) *panicError {
	return &panicError{value: v, stack: debug.Stack()}
}

func (p *panicError) Error() string { return fmt.Sprintf("handler panicked: %v", p.value) }
