package jetstream

import (
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/osprey-aiops/osprey/internal/bus"
)

// fetched is a message a subscriber took from JetStream, with what the
// delivery loop needs to know about it.
type fetched struct {
	msg     natsjs.Msg
	attempt uint64 // JetStream's delivery count, 1 for the first delivery
	// inner is the text between the brackets of the message's JSON array
	// and elems the number of its elements; ok is false when the payload
	// is not a JSON array (the message is then never joined to others).
	inner []byte
	elems int
	ok    bool
}

// take describes m, counting it as a redelivery when JetStream delivered it
// before. Only a coalescing group needs the payload scanned.
func (g *group) take(m natsjs.Msg) fetched {
	f := fetched{msg: m, attempt: 1}
	if md, err := m.Metadata(); err == nil {
		f.attempt = md.NumDelivered
	}
	if f.attempt > 1 {
		g.redelivered.Inc()
	}
	if g.coalesce > 0 {
		f.inner, f.elems, f.ok = arrayElems(m.Data())
	}
	return f
}

// joinable reports whether f may be handled in one call with other
// messages: its payload is a JSON array, and this is not its last allowed
// delivery, so that a batch is only ever given up for a failure of a call
// that held it alone.
func (b *Bus) joinable(f fetched) bool {
	return f.ok && (b.opts.MaxDeliver <= 0 || f.attempt < uint64(b.opts.MaxDeliver))
}

// work delivers the messages a coalescing subscription fetched, from queue,
// until queue is closed: each call gets a message and those queued behind it
// (see "Coalescing" in the package documentation).
func (b *Bus) work(g *group, h bus.RawHandler, queue <-chan natsjs.Msg) {
	defer b.workers.Done()
	var taken []fetched
	for m := range queue {
		taken = append(taken[:0], g.take(m))
		var odd *fetched
		if b.joinable(taken[0]) {
			taken, odd = b.gather(g, taken, queue)
		}
		b.deliver(g, h, taken)
		if odd != nil {
			b.deliver(g, h, []fetched{*odd})
		}
		clear(taken)
	}
}

// gather appends to taken the messages queued behind it, while some are
// there and taken holds fewer than g.coalesce elements. A message that may
// not be joined (b.joinable) is returned as odd, to be delivered on its own
// after the others, so the order is kept.
func (b *Bus) gather(g *group, taken []fetched, queue <-chan natsjs.Msg) (all []fetched, odd *fetched) {
	n := taken[0].elems
	for n < g.coalesce {
		select {
		case m, ok := <-queue:
			if !ok {
				return taken, nil
			}
			f := g.take(m)
			if !b.joinable(f) {
				return taken, &f
			}
			taken = append(taken, f)
			n += f.elems
		default:
			return taken, nil
		}
	}
	return taken, nil
}

// joined returns the JSON array of the elements of taken's arrays, in order.
func joined(taken []fetched) []byte {
	size := 2
	for _, f := range taken {
		size += len(f.inner) + 1
	}
	out := make([]byte, 0, size)
	out = append(out, '[')
	first := true
	for _, f := range taken {
		if f.elems == 0 {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		out = append(out, f.inner...)
		first = false
	}
	return append(out, ']')
}

// arrayElems returns the text between the brackets of the JSON array data
// and the number of its elements, or ok false when data is not one JSON
// array (surrounding whitespace allowed). It only follows strings and
// nesting to find the top-level commas; the elements themselves are
// checked when the joined array is decoded.
func arrayElems(data []byte) (inner []byte, elems int, ok bool) {
	start, end := 0, len(data)
	for start < end && isSpace(data[start]) {
		start++
	}
	for end > start && isSpace(data[end-1]) {
		end--
	}
	if end-start < 2 || data[start] != '[' || data[end-1] != ']' {
		return nil, 0, false
	}
	inner = data[start+1 : end-1]
	depth, commas, content := 0, 0, false
	inString, escaped := false, false
	for _, c := range inner {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth < 0 {
				return nil, 0, false
			}
		case ',':
			if depth == 0 {
				commas++
			}
		}
		if !isSpace(c) {
			content = true
		}
	}
	if inString || depth != 0 {
		return nil, 0, false
	}
	if !content {
		return inner, 0, true
	}
	return inner, commas + 1, true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
