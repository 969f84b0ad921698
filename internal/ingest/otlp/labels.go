package otlp

import (
	"strings"

	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/osprey-aiops/osprey"
)

// renamed maps the resource attributes that have an Osprey label of their
// own to it.
var renamed = map[string]string{
	"service.name":        osprey.LabelService,
	"host.name":           osprey.LabelHost,
	"service.instance.id": osprey.LabelInstance,
	"k8s.namespace.name":  osprey.LabelNamespace,
	"k8s.cluster.name":    osprey.LabelCluster,
}

// promotedPrefixes are the resource attributes kept as labels (besides the
// renamed ones): those that say where a signal comes from.
var promotedPrefixes = []string{"service.", "host.", "k8s.", "cloud.", "container.", "deployment.environment", "faas."}

// labelName sanitises an attribute name to Prometheus' label syntax; ""
// when nothing usable is left.
func labelName(name string) string {
	if isLabelName(name) {
		return name
	}
	ln := otlptranslator.LabelNamer{}
	s, err := ln.Build(name)
	if err != nil || strings.HasPrefix(s, "__") {
		return ""
	}
	return s
}

// isLabelName reports whether s already matches [a-zA-Z_][a-zA-Z0-9_]* and
// does not start with the reserved "__".
func isLabelName(s string) bool {
	if s == "" || strings.HasPrefix(s, "__") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// resourceLabels returns the labels of a resource (see the package
// comment). The result is shared by every item of the resource; callers
// clone it before adding to it.
func resourceLabels(attrs pcommon.Map) osprey.Labels {
	l := make(osprey.Labels, 4)
	attrs.Range(func(k string, v pcommon.Value) bool {
		if name, ok := renamed[k]; ok {
			l[name] = v.AsString()
			return true
		}
		for _, p := range promotedPrefixes {
			if strings.HasPrefix(k, p) {
				if name := labelName(k); name != "" {
					if _, taken := l[name]; !taken {
						l[name] = v.AsString()
					}
				}
				break
			}
		}
		return true
	})
	return l
}

// addAttributes adds attrs to l as labels with sanitised names; a name
// already in l keeps its value (resource labels win).
func addAttributes(l osprey.Labels, attrs pcommon.Map) {
	attrs.Range(func(k string, v pcommon.Value) bool {
		if name := labelName(k); name != "" {
			if _, taken := l[name]; !taken {
				l[name] = v.AsString()
			}
		}
		return true
	})
}
