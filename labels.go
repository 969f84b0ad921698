package osprey

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unsafe"
)

// Labels is a set of name/value pairs that identifies a series, an event or a
// resource. A nil Labels is an empty set. Labels with an empty value are treated
// as absent by Fingerprint, as Prometheus does.
type Labels map[string]string

// Well-known label names that the correlation and remediation stages read.
const (
	LabelService   = "service"
	LabelHost      = "host"
	LabelInstance  = "instance"
	LabelNamespace = "namespace"
	LabelCluster   = "cluster"
	LabelAlertName = "alertname"
	LabelMetric    = "__name__"
	// LabelTraceSignal says what a trace anomaly (AnomalyTrace) found:
	// "flow" (spans without a call they normally make) or "latency"
	// (spans far slower than learnt).
	LabelTraceSignal = "trace_signal"
)

// Get returns the value of name, or "" when it is absent.
func (l Labels) Get(name string) string { return l[name] }

// Identity returns the identity of the map l itself (the address of its
// runtime header; nil for a nil map), not of its contents: two Labels have
// the same identity only when they are the same map, for as long as
// something refers to it. A stage that is handed the same map with every
// batch of a series (the remote_write receiver hands on one per series from
// its series cache) can find its state for the series by it instead of
// hashing the labels. That relies on a label map handed on never being
// changed: producers do not change a map they handed on, and no stage may.
func (l Labels) Identity() unsafe.Pointer {
	if l == nil {
		return nil
	}
	return *(*unsafe.Pointer)(unsafe.Pointer(&l))
}

// Names returns the label names with a non-empty value, sorted.
func (l Labels) Names() []string {
	names := make([]string, 0, len(l))
	for k, v := range l {
		if v != "" {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return names
}

// Clone returns a copy of l that shares no memory with it.
func (l Labels) Clone() Labels {
	if l == nil {
		return nil
	}
	c := make(Labels, len(l))
	for k, v := range l {
		c[k] = v
	}
	return c
}

// Equal reports whether l and o hold the same non-empty pairs.
func (l Labels) Equal(o Labels) bool {
	n := 0
	for k, v := range l {
		if v == "" {
			continue
		}
		if o[k] != v {
			return false
		}
		n++
	}
	for _, v := range o {
		if v != "" {
			n--
		}
	}
	return n == 0
}

// String renders l in Prometheus' {a="1", b="2"} notation, sorted by name.
func (l Labels) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range l.Names() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(l[k]))
	}
	b.WriteByte('}')
	return b.String()
}

// Fingerprint returns a stable 64-bit hash of the non-empty pairs of l. It does
// not depend on map iteration order, and it is the same in every process and
// release: it is stored, so changing the algorithm is a data migration.
func (l Labels) Fingerprint() Fingerprint {
	return l.fingerprintWith("", "")
}

// fingerprintWith hashes l as if the pair (extraName, extraValue) were added
// (replacing any extraName label). Each name and value is hashed with its
// length in front, so no two different label sets encode to the same byte
// stream, whatever bytes their values hold.
func (l Labels) fingerprintWith(extraName, extraValue string) Fingerprint {
	// Sorting a small stack buffer of names avoids an allocation for the
	// common case of sixteen labels or fewer.
	var buf [16]string
	names := buf[:0]
	for k, v := range l {
		if v != "" && k != extraName {
			names = append(names, k)
		}
	}
	if extraName != "" && extraValue != "" {
		names = append(names, extraName)
	}
	slices.Sort(names)
	h := uint64(fnvOffset64)
	for _, k := range names {
		v := l[k]
		if k == extraName {
			v = extraValue
		}
		h = fnvString(fnvLen(h, len(k)), k)
		h = fnvString(fnvLen(h, len(v)), v)
	}
	return Fingerprint(h)
}

// FNV-1a, 64 bit, written out so hashing a string does not allocate.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return h
}

// fnvLen hashes n as a uvarint.
func fnvLen(h uint64, n int) uint64 {
	u := uint64(n)
	for u >= 0x80 {
		h ^= u&0x7f | 0x80
		h *= fnvPrime64
		u >>= 7
	}
	h ^= u
	h *= fnvPrime64
	return h
}

// Fingerprint identifies a label set (and so a series or an alert) across
// processes and restarts.
type Fingerprint uint64

// String returns the fingerprint as 16 lowercase hex digits.
func (f Fingerprint) String() string {
	var b [8]byte
	for i := range 8 {
		b[7-i] = byte(f >> (8 * i))
	}
	return hex.EncodeToString(b[:])
}

// ParseFingerprint parses the 16-hex-digit form produced by String.
func ParseFingerprint(s string) (Fingerprint, error) {
	if len(s) != 16 {
		return 0, fmt.Errorf("fingerprint %q: want 16 hex digits", s)
	}
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("fingerprint %q: %w", s, err)
	}
	return Fingerprint(v), nil
}

// MarshalText encodes f as its hex string, so JSON carries it losslessly
// (a uint64 does not survive JavaScript's float64 numbers).
func (f Fingerprint) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText decodes the hex string written by MarshalText.
func (f *Fingerprint) UnmarshalText(b []byte) error {
	v, err := ParseFingerprint(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}
