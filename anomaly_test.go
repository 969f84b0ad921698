package osprey_test

import (
	"testing"

	"github.com/osprey-aiops/osprey"
)

func TestTemplateText(t *testing.T) {
	a := osprey.Anomaly{Kind: osprey.AnomalyLog, TemplateID: "t7", Evidence: []osprey.Evidence{
		{Detector: "log_new_template", Reason: "template t7: new"}, osprey.TemplateEvidence("t7", "Connection refused to <*>: retries"),
	}}
	if text, ok := a.TemplateText(); !ok || text != "Connection refused to <*>: retries" {
		t.Fatalf("TemplateText = %q, %v", text, ok)
	}
	a.TemplateID = "t8" // an entry of another template does not count
	if text, ok := a.TemplateText(); ok {
		t.Fatalf("TemplateText of t8 = %q", text)
	}
}
