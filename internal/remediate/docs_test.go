package remediate

import (
	"os"
	"regexp"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// TestDocsExamples keeps the runbooks in docs/remediation.md valid: every
// complete YAML example decodes strictly and passes Config.Validate, CEL
// type-checking and exec_allow included.
func TestDocsExamples(t *testing.T) {
	data, err := os.ReadFile("../../docs/remediation.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(data), -1)
	checked := 0
	for _, b := range blocks {
		if strings.Contains(b[1], "[...]") {
			continue // the section outline
		}
		var doc struct {
			Remediation Config `yaml:"remediation"`
		}
		doc.Remediation = DefaultConfig()
		dec := yaml.NewDecoder(strings.NewReader(b[1]))
		dec.KnownFields(true)
		if err := dec.Decode(&doc); err != nil {
			t.Errorf("example %d does not decode: %v\n%s", checked+1, err, b[1])
			continue
		}
		if err := doc.Remediation.Validate(); err != nil {
			t.Errorf("example %d is invalid: %v", checked+1, err)
		}
		checked++
	}
	if checked != 3 {
		t.Fatalf("checked %d examples, want 3", checked)
	}
}
