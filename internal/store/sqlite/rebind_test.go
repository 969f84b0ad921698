package sqlite

import "testing"

func TestRebind(t *testing.T) {
	cases := []struct {
		name, in string
		nargs    int
		want     string
		wantErr  bool
	}{
		{name: "no args untouched", in: "SELECT '$1'", want: "SELECT '$1'"},
		{name: "in order", in: "INSERT INTO t (a, b) VALUES ($1, $2)", nargs: 2, want: "INSERT INTO t (a, b) VALUES (?, ?)"},
		{name: "multi digit", in: "($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)", nargs: 11, want: "(?,?,?,?,?,?,?,?,?,?,?)"},
		{name: "quoted text kept", in: `SELECT 'a$1''s', "$x" WHERE a = $1`, nargs: 1, want: `SELECT 'a$1''s', "$x" WHERE a = ?`},
		{name: "out of order", in: "a = $2 AND b = $1", nargs: 2, wantErr: true},
		{name: "repeated", in: "a = $1 OR b = $1", nargs: 1, wantErr: true},
		{name: "too few placeholders", in: "a = $1", nargs: 2, wantErr: true},
		{name: "unterminated quote", in: "a = 'x AND b = $1", nargs: 1, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rebind(tc.in, tc.nargs)
			if (err != nil) != tc.wantErr {
				t.Fatalf("rebind(%q, %d) error %v, want error: %v", tc.in, tc.nargs, err, tc.wantErr)
			}
			if !tc.wantErr && got != tc.want {
				t.Errorf("rebind(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
