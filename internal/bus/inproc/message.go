package inproc

import (
	"encoding/json"
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/osprey-aiops/osprey/internal/bus"
)

// message is one batch as delivered to one group: the payload by reference,
// with its JSON encoding made on first demand (in-process handlers rarely ask).
type message struct {
	value any

	once sync.Once
	data []byte
	err  error
}

var _ bus.Message = (*message)(nil)

// Value returns the published payload (or this group's copy of it).
func (m *message) Value() (any, bool) { return m.value, true }

// Data returns the JSON encoding of the payload, computed once.
func (m *message) Data() ([]byte, error) {
	m.once.Do(func() { m.data, m.err = json.Marshal(m.value) })
	return m.data, m.err
}

// panicError is a recovered handler panic.
type panicError struct {
	value any
	stack []byte
}

func newPanicError(v any) *panicError {
	return &panicError{value: v, stack: debug.Stack()}
}

func (p *panicError) Error() string { return fmt.Sprintf("handler panicked: %v", p.value) }
