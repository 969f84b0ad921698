package agent

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestSpoolOrderCapAndReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := openSpool(dir, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := s.add(kindMetrics, bytes.Repeat([]byte{byte('a' + i)}, 40)); err != nil {
			t.Fatal(err)
		}
	}
	st := s.stats()
	if st.Requests != 2 || st.Bytes != 80 || st.DroppedRequest != 3 || st.DroppedBytes != 120 {
		t.Fatalf("stats %+v, want the 2 newest kept and 3 dropped", st)
	}
	if err := s.add(kindLogs, []byte("log")); err != nil {
		t.Fatal(err)
	}
	// A write cut short leaves a temporary file, which reopening removes.
	if err := os.WriteFile(filepath.Join(dir, ".spool-123"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = openSpool(dir, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		it, body, ok, err := s.oldest()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		got = append(got, fmt.Sprintf("%s:%c", it.kind, body[0]))
		s.remove(it)
	}
	if fmt.Sprint(got) != "[rw:d rw:e loki:l]" {
		t.Errorf("spool delivered %v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, ".spool-123")); !os.IsNotExist(err) {
		t.Error("temporary file left behind")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Errorf("spool dir not empty: %v", ents)
	}
}
