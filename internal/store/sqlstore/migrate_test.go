package sqlstore

import (
	"testing"
	"testing/fstest"
)

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	cases := []struct {
		name    string
		fs      fstest.MapFS
		want    []string // names in order
		wantErr bool
	}{
		{name: "none", fs: fstest.MapFS{}},
		{
			name:    "gap in versions",
			fs:      fstest.MapFS{"0002_more.sql": file("B"), "0001_init.sql": file("A"), "0010_later.sql": file("C")},
			wantErr: true,
		},
		{
			name: "sorted by version",
			fs:   fstest.MapFS{"0002_more.sql": file("B"), "0001_init.sql": file("A"), "0003_x.sql": file("C")},
			want: []string{"init", "more", "x"},
		},
		{name: "must start at 1", fs: fstest.MapFS{"0002_more.sql": file("B")}, wantErr: true},
		{name: "duplicate version", fs: fstest.MapFS{"0001_a.sql": file("A"), "0001_b.sql": file("B")}, wantErr: true},
		{name: "bad name", fs: fstest.MapFS{"init.sql": file("A")}, wantErr: true},
		{name: "short version", fs: fstest.MapFS{"1_init.sql": file("A")}, wantErr: true},
		{name: "directories ignored", fs: fstest.MapFS{"0001_init.sql": file("A"), "old/x.txt": file("")}, want: []string{"init"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := loadMigrations(tc.fs)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error: %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if len(ms) != len(tc.want) {
				t.Fatalf("got %d migrations, want %d", len(ms), len(tc.want))
			}
			for i, m := range ms {
				if m.name != tc.want[i] || m.version != int64(i+1) {
					t.Errorf("migration %d = %d_%s, want %d_%s", i, m.version, m.name, i+1, tc.want[i])
				}
			}
		})
	}
}
