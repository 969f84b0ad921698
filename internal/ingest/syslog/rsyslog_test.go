package syslog

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/testenv"
)

// rsyslogConf forwards what rsyslog receives on UDP to Osprey twice, as
// docs/receivers.md tells users to: octet-counted RFC 5424 over TCP, and the
// legacy one-liner over UDP with rsyslog's default (RFC 3164) format.
const rsyslogConf = `global(workDirectory=%q)
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="%d")
action(type="omfwd" target="127.0.0.1" port="%s" protocol="tcp"
       TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
*.* @127.0.0.1:%s
`

// freeUDPPort returns a UDP port that was free a moment ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// TestRealRsyslog runs Debian's rsyslogd with the forwarding configuration
// of docs/receivers.md and checks what arrives.
func TestRealRsyslog(t *testing.T) {
	rsyslogd, err := exec.LookPath("rsyslogd")
	if err != nil {
		testenv.Unavailable(t, "rsyslogd (Debian package rsyslog)", err)
	}
	logger, err := exec.LookPath("logger")
	if err != nil {
		testenv.Unavailable(t, "logger (util-linux)", err)
	}
	ts := startServer(t, Options{Location: time.Local, Now: time.Now, BatchSize: 1})
	_, udpPort, _ := net.SplitHostPort(ts.udpAddr())
	_, tcpPort, _ := net.SplitHostPort(ts.tcpAddr())

	dir := t.TempDir()
	inPort := freeUDPPort(t)
	conf := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, rsyslogConf, dir, inPort, tcpPort, udpPort), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(rsyslogd, "-N1", "-f", conf).CombinedOutput(); err != nil {
		t.Fatalf("rsyslogd -N1 (config check): %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, rsyslogd, "-n", "-f", conf, "-i", filepath.Join(dir, "rsyslogd.pid"))
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start rsyslogd: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("rsyslogd output:\n%s", stderr.String())
		}
	})

	// rsyslogd takes a moment to listen: send until both copies of one
	// message have arrived.
	deadline := time.Now().Add(15 * time.Second)
	var got []osprey.LogRecord
	for i := 0; ; i++ {
		body := fmt.Sprintf("disk full on /var (try %d)", i)
		out, err := exec.Command(logger, "--server", "127.0.0.1", "--port", fmt.Sprint(inPort), "--udp", "--rfc3164",
			"-p", "local3.err", "-t", "myapp", "--id=777", "--", body).CombinedOutput()
		if err != nil {
			t.Fatalf("logger: %v: %s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
		got = got[:0]
		for _, r := range ts.sink.records() {
			if r.Body == body {
				got = append(got, r)
			}
		}
		if len(got) >= 2 || time.Now().After(deadline) {
			break
		}
	}
	formats := map[string]osprey.LogRecord{}
	for _, r := range got {
		formats[r.Attributes[AttrFormat]] = r
	}
	if len(formats) != 2 {
		t.Fatalf("want one RFC 5424 copy (TCP) and one RFC 3164 copy (UDP), got %+v", got)
	}
	for format, r := range formats {
		if r.Labels["app"] != "myapp" || r.Level != "error" || r.Attributes[AttrFacility] != "local3" ||
			r.Attributes[AttrProcID] != "777" || r.Labels["host"] == "" || strings.ContainsAny(r.Body, "\r\n") {
			t.Errorf("%s copy: %+v", format, r)
		}
		if d := time.Since(r.Time); d < -time.Minute || d > time.Minute {
			t.Errorf("%s copy: time %v is not now", format, r.Time)
		}
	}
	if snap := ts.stats.Snapshot()[ReceiverName]; snap.Items.Rejected != 0 {
		t.Errorf("rejected %+v", snap.Rejected)
	}
}
