package action

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osprey-aiops/osprey"
)

// recorder is a real program for exec tests: a tiny shell script that appends
// its arguments, NUL-separated, to a log file, one record per invocation.
// One printf call makes one small append, so concurrent calls do not
// interleave.
type recorder struct {
	path string // the script, to put on the allow-list
	log  string
}

func newRecorder(t testing.TB) *recorder {
	t.Helper()
	dir := t.TempDir()
	r := &recorder{path: filepath.Join(dir, "record"), log: filepath.Join(dir, "argv.log")}
	script := "#!/bin/sh\nprintf '%s\\0' CALL \"$@\" >> '" + r.log + "'\necho recorded\n"
	if err := os.WriteFile(r.path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return r
}

// calls returns the argv (without argv[0]) of every invocation so far.
func (r *recorder) calls(t testing.TB) [][]string {
	t.Helper()
	b, err := os.ReadFile(r.log)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	fields := bytes.Split(b, []byte{0})
	fields = fields[:len(fields)-1] // the split leaves one empty field after the last NUL
	var out [][]string
	for _, f := range fields {
		if string(f) == "CALL" {
			out = append(out, []string{})
			continue
		}
		out[len(out)-1] = append(out[len(out)-1], string(f))
	}
	return out
}

func incident(labels osprey.Labels) *osprey.Incident {
	return &osprey.Incident{
		ID: "01INC", Title: "web is down", Status: osprey.IncidentOpen, Severity: osprey.SeverityCritical,
		Labels:  labels,
		Members: []*osprey.Member{{Kind: osprey.MemberEvent, Name: "HighErrorRate", Labels: labels, Status: osprey.StatusFiring}},
	}
}

// hostile is the security corpus: values an attacker who controls an alert's
// labels could send. marker is a directory the shell payloads try to create
// files in.
func hostile(marker string) map[string]string {
	long := strings.Repeat("A", 100<<10)
	return map[string]string{
		"semicolon":      "; rm -rf / ; touch " + marker + "/semicolon",
		"subshell":       "$(touch " + marker + "/subshell)",
		"backticks":      "`touch " + marker + "/backticks`",
		"pipe":           "web | touch " + marker + "/pipe",
		"and":            "web && touch " + marker + "/and",
		"newline":        "web\ntouch " + marker + "/newline",
		"cr":             "web\r\ntouch " + marker + "/cr",
		"flag":           "--flag=evil",
		"short-flag":     "-rf",
		"exec-flag":      "--exec=touch " + marker + "/flag",
		"traversal":      "../../etc/passwd",
		"abs-traversal":  "/../../../etc/shadow",
		"long":           long,
		"invalid-utf8":   "web\xff\xfe",
		"nul":            "web\x00touch " + marker + "/nul",
		"space":          "web service",
		"glob":           "*",
		"quote":          `web"; touch ` + marker + `/quote; "`,
		"template":       "{{.Incident.ID}}",
		"unicode-rtl":    "web\u202Eexe.sh",
		"empty":          "",
		"dollar-var":     "$HOME",
		"redirect":       "web > " + marker + "/redirect",
		"json-breaker":   `", "admin": true, "x": "`,
		"backslash":      `web\", \"admin\": true`,
		"html":           "<script>alert(1)</script>",
		"percent":        "%s%n%x",
		"emoji":          "web-🔥",
		"control":        "web\x1b[31m",
		"only-dash":      "-",
		"double-dash":    "--",
		"leading-space":  " -rf",
		"unicode-dashes": "\u2014flag",
	}
}
