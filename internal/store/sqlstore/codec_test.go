package sqlstore

import (
	"math"
	"testing"
	"time"
)

func TestTimeCodec(t *testing.T) {
	cases := []struct {
		name    string
		in      time.Time
		wantNS  int64
		wantErr bool
	}{
		{name: "zero", in: time.Time{}, wantNS: math.MinInt64},
		{name: "epoch", in: time.Unix(0, 0), wantNS: 0},
		{name: "nanoseconds kept", in: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("x", -7*3600)), wantNS: 1767348245123456789},
		{name: "latest", in: time.Unix(0, math.MaxInt64), wantNS: math.MaxInt64},
		{name: "earliest", in: time.Unix(0, math.MinInt64+1), wantNS: math.MinInt64 + 1},
		{name: "the zero sentinel itself", in: time.Unix(0, math.MinInt64), wantErr: true},
		{name: "too late", in: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), wantErr: true},
		{name: "too early", in: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns, err := encodeTime(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("encodeTime(%s) error %v, want error: %v", tc.in, err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if ns != tc.wantNS {
				t.Errorf("encodeTime(%s) = %d, want %d", tc.in, ns, tc.wantNS)
			}
			back := decodeTime(ns)
			if !back.Equal(tc.in) || back.Location() != time.UTC {
				t.Errorf("decodeTime(%d) = %s, want %s in UTC", ns, back, tc.in)
			}
		})
	}
}

func TestUpsertSQL(t *testing.T) {
	got := upsertSQL("t", []string{"id", "a", "b"}, 2)
	want := "INSERT INTO t (id, a, b) VALUES ($1, $2, $3), ($4, $5, $6) ON CONFLICT (id) DO UPDATE SET a = excluded.a, b = excluded.b"
	if got != want {
		t.Errorf("upsertSQL:\n got %s\nwant %s", got, want)
	}
}
