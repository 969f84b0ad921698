package logparse

import (
	"testing"
	"time"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		layout  Layout
		level   string
		message string
		time    string // RFC 3339, or "" for zero
		app     string
	}{
		{"json", `{"time":"2024-05-01T10:00:00Z","level":"WARN","msg":"disk 91% full","disk":"sda"}`,
			LayoutJSON, "warning", "disk 91% full", "2024-05-01T10:00:00Z", ""},
		{"json epoch", `{"ts":1714557600.5,"severity":"error","message":"boom"}`,
			LayoutJSON, "error", "boom", "2024-05-01T10:00:00.5Z", ""},
		{"bad json is plain", `{"msg": broken`, LayoutPlain, "", `{"msg": broken`, "", ""},
		{"logfmt", `time=2024-05-01T10:00:00Z level=info msg="request done" status=200`,
			LayoutLogfmt, "info", "request done", "2024-05-01T10:00:00Z", ""},
		{"rfc5424", `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application"] An application event`,
			LayoutRFC5424, "notice", "An application event", "2003-10-11T22:14:15.003Z", "evntslog"},
		{"rfc5424 no sd", `<34>1 2003-10-11T22:14:15.003Z host su - ID47 - 'su root' failed`,
			LayoutRFC5424, "critical", "'su root' failed", "2003-10-11T22:14:15.003Z", "su"},
		{"rfc3164", `<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed for lonvick`,
			LayoutRFC3164, "critical", "'su root' failed for lonvick", "0000-10-11T22:14:15Z", "su"},
		{"rfc3164 without pri", `Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown`,
			LayoutRFC3164, "", "check pass; user unknown", "0000-06-14T15:16:01Z", "sshd(pam_unix)"},
		{"iso with level", `2015-10-18 18:01:47,978 INFO [main] Created MRAppMaster`,
			LayoutTimestamp, "info", "[main] Created MRAppMaster", "2015-10-18T18:01:47.978Z", ""},
		{"log4j thread before the logger", `2015-10-18 18:01:52,712 INFO [IPC Server handler 5 on 62270] org.apache.hadoop.ipc.Server: Starting`,
			LayoutTimestamp, "info", "org.apache.hadoop.ipc.Server: Starting", "2015-10-18T18:01:52.712Z", ""},
		{"iso T zone bracket level", `2024-05-01T10:00:00+02:00 [error] upstream timed out`,
			LayoutTimestamp, "error", "upstream timed out", "2024-05-01T08:00:00Z", ""},
		{"epoch", `1117838570 RAS KERNEL INFO instruction cache parity error corrected`,
			LayoutTimestamp, "", "RAS KERNEL INFO instruction cache parity error corrected", "2005-06-03T22:42:50Z", ""},
		{"hdfs", `081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating`,
			LayoutTimestamp, "info", "dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating", "2008-11-09T20:36:15Z", ""},
		{"log4j yy/MM/dd", `17/06/09 20:10:40 INFO executor.Executor: Running task 0.0 in stage 0.0`,
			LayoutTimestamp, "info", "executor.Executor: Running task 0.0 in stage 0.0", "2017-06-09T20:10:40Z", ""},
		{"yyyyMMdd-time millis", `20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579`,
			LayoutTimestamp, "", "Step_LSC|30002312|onStandStepChanged 3579", "2017-12-23T22:15:29.606Z", ""},
		{"logcat", `03-17 16:13:38.811  1702  2395 D WindowManager: printFreezingDisplayLogs opening app`,
			LayoutTimestamp, "debug", "WindowManager: printFreezingDisplayLogs opening app", "0000-03-17T16:13:38.811Z", ""},
		{"ctime in brackets", `[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties`,
			LayoutTimestamp, "info", "workerEnv.init() ok /etc/httpd/conf/workers2.properties", "2005-12-04T04:47:44Z", ""},
		{"digits that are no date stay plain", `123456 999999 items moved`, LayoutPlain, "", "123456 999999 items moved", "", ""},
		{"pid without level keeps the text", `081109 203615 148 went away`, LayoutTimestamp, "", "148 went away", "2008-11-09T20:36:15Z", ""},
		{"comma after the time", `2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack v6.1.7601.23505`,
			LayoutTimestamp, "info", "CBS    Loaded Servicing Stack v6.1.7601.23505", "2016-09-28T04:30:30Z", ""},
		{"level only", `ERROR: cannot open file`, LayoutPlain, "error", "cannot open file", "", ""},
		{"glog", `E0102 15:04:05.000000 1 main.go:12] oops`, LayoutPlain, "error", "15:04:05.000000 1 main.go:12] oops", "", ""},
		{"plain", `just some words`, LayoutPlain, "", "just some words", "", ""},
		{"word that starts like a level", `Information retrieval started`, LayoutPlain, "", "Information retrieval started", "", ""},
		{"empty", ``, LayoutPlain, "", "", "", ""},
		{"crlf", "WARN low memory\r\n", LayoutPlain, "warning", "low memory", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := Detect(tc.line)
			if h.Layout != tc.layout || h.Level != tc.level || h.Message != tc.message || h.App != tc.app {
				t.Fatalf("Detect = layout %v level %q app %q message %q; want %v %q %q %q",
					h.Layout, h.Level, h.App, h.Message, tc.layout, tc.level, tc.app, tc.message)
			}
			var want time.Time
			if tc.time != "" {
				var err error
				if want, err = time.Parse(time.RFC3339Nano, tc.time); err != nil {
					t.Fatal(err)
				}
			}
			if !h.Time.Equal(want) {
				t.Errorf("time = %v, want %v", h.Time, want)
			}
		})
	}
}

func TestDetectKeepsAttributes(t *testing.T) {
	h := Detect(`{"msg":"x","user":{"id":7},"ok":true,"n":null}`)
	if h.Attributes["user"] != `{"id":7}` || h.Attributes["ok"] != "true" || h.Attributes["n"] != "" {
		t.Errorf("attributes = %v", h.Attributes)
	}
	if _, ok := h.Attributes["msg"]; ok {
		t.Error("message kept among the attributes")
	}
}
