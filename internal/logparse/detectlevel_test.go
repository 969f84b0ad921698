package logparse

import "testing"

func TestDetectLevel(t *testing.T) {
	for line, want := range map[string]string{
		`{"time":"2024-05-01T10:00:00Z","level":"WARN","msg":"disk 91% full"}`: "warning",
		`{"msg":"x", "severity" : "error"}`:                                    "error",
		`{"msg":"levels are fine"}`:                                            "",
		`{"level":30,"msg":"pino"}`:                                            "",
		`{"level":"`:                                                           "",
		`time=2024-05-01T10:00:00Z level=info msg="request done"`:              "info",
		`msg="x" lvl="ERROR"`:                                                  "error",
		`a=b loglevel=debug`:                                                   "debug",
		`<34>Oct 11 22:14:15 mymachine su: 'su root' failed`:                   "critical",
		`2015-10-18 18:01:47,978 INFO [main] Created MRAppMaster`:              "info",
		`ERROR: cannot open file`:                                              "error",
		`Information retrieval started`:                                        "",
		`just words with level=inside`:                                         "",
		``:                                                                     "",
	} {
		if got := DetectLevel(line); got != want {
			t.Errorf("DetectLevel(%q) = %q, want %q", line, got, want)
		}
	}
	if NormaliseLevel("Fatal") != "critical" || NormaliseLevel("bogus") != "" {
		t.Error("NormaliseLevel")
	}
}

// TestDetectLevelAgreesWithDetect checks that the shortcut finds the level
// Detect finds on the layouts Detect decodes fully.
func TestDetectLevelAgreesWithDetect(t *testing.T) {
	for _, line := range []string{
		`{"level":"warn","msg":"a"}`, `{"msg":"a","lvl":"debug"}`, `level=error msg=a`, `msg=a severity=info`,
		`<13>1 - h a - - - m`, `Jan  5 11:58:01 host app: ERROR boom`, `2024-05-01T10:00:00Z [WARN] m`, `WARN x`, `nothing`,
	} {
		if got, want := DetectLevel(line), normaliseLevel(Detect(line).Level); got != want {
			t.Errorf("DetectLevel(%q) = %q, Detect found %q", line, got, want)
		}
	}
}

func BenchmarkDetectLevel(b *testing.B) {
	lines := []string{
		`{"time":"2024-05-01T10:00:00Z","level":"WARN","msg":"disk 91% full","disk":"sda"}`,
		`time=2024-05-01T10:00:00Z level=info msg="request done" status=200 path=/api/v1/x`,
		`2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created MRAppMaster`,
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			_ = DetectLevel(l)
		}
	}
	b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "lines/s")
}

// FuzzDetectLevel checks that DetectLevel never panics and only returns
// canonical level names.
func FuzzDetectLevel(f *testing.F) {
	for _, s := range []string{`{"level":"warn"}`, `{"level" :`, `level=`, `level="x`, `a level=info`, `<13>x`, `WARN x`, `2024-05-01T10:00:00Z E x`} {
		f.Add(s)
	}
	canonical := map[string]bool{"": true, "trace": true, "debug": true, "info": true, "warning": true, "error": true, "critical": true}
	f.Fuzz(func(t *testing.T, line string) {
		if lv := DetectLevel(line); !canonical[lv] {
			t.Fatalf("DetectLevel(%q) = %q", line, lv)
		}
	})
}
