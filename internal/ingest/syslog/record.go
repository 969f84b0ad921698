package syslog

import (
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/logparse"
)

// Labels and attributes of a syslog record.
const (
	// LabelSource is "syslog" on every record.
	LabelSource = "source"
	// SourceSyslog is the value of LabelSource.
	SourceSyslog = "syslog"
	// LabelApp holds APP-NAME (RFC 5424) or TAG (RFC 3164).
	LabelApp = "app"

	AttrFacility = "facility" // kern, user, daemon, auth, local0, ...
	AttrSeverity = "severity" // emerg, alert, crit, err, warning, notice, info, debug
	AttrProcID   = "procid"
	AttrMsgID    = "msgid"
	AttrFormat   = "syslog_format" // rfc5424 or rfc3164
	AttrPeer     = "peer"          // the sending address (a relay's, if relayed)
)

// maxLabelBytes bounds a label taken from a message (HOSTNAME, APP-NAME):
// RFC 5424's limit for HOSTNAME, applied to RFC 3164's unbounded words too.
const maxLabelBytes = 255

// toRecord turns a parsed message into a record. now is the receive time,
// used when the message carried none; peer is the sender's IP address,
// which stands in for a missing HOSTNAME.
func toRecord(m *logparse.SyslogMessage, peer string, now time.Time) osprey.LogRecord {
	host := m.Hostname
	if host == "" {
		host = peer
	}
	labels := make(osprey.Labels, 3)
	labels[LabelSource] = SourceSyslog
	if host != "" {
		labels[osprey.LabelHost] = clip(host)
	}
	if m.AppName != "" {
		labels[LabelApp] = clip(m.AppName)
	}
	n := 4
	for _, el := range m.StructuredData {
		n += len(el.Params)
	}
	attrs := make(map[string]string, n)
	attrs[AttrFacility] = m.FacilityName()
	attrs[AttrSeverity] = m.SeverityName()
	attrs[AttrFormat] = m.Format.String()
	if m.ProcID != "" {
		attrs[AttrProcID] = m.ProcID
	}
	if m.MsgID != "" {
		attrs[AttrMsgID] = m.MsgID
	}
	if peer != "" {
		attrs[AttrPeer] = peer
	}
	// Structured data as "SD-ID.PARAM-NAME"; a repeated parameter keeps
	// its last value.
	for _, el := range m.StructuredData {
		for _, p := range el.Params {
			attrs[el.ID+"."+p.Name] = p.Value
		}
	}
	t := m.Time
	if t.IsZero() {
		t = now
	}
	// rsyslog's RFC 5424 templates put the space that followed an RFC
	// 3164 TAG in front of MSG; the same line must not differ by it.
	body := strings.TrimLeft(m.Message, " ")
	return osprey.LogRecord{Time: t.UTC(), Labels: labels, Level: m.Level(), Body: body, Attributes: attrs}
}

func clip(s string) string {
	if len(s) > maxLabelBytes {
		return s[:maxLabelBytes]
	}
	return s
}
