package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Control is the simulated environment's control endpoint, what Osprey's
// runbooks call (the stand-in for a Kubernetes API or a deploy tool):
//
//	POST /services/restart       {"service": "inventory", "reason": "..."}
//	POST /services/cleanup-logs  {"service": "catalog", "mountpoint": "/var/log"}
//
// Both answer 200 with a JSON result, 400 for a malformed body and 404 for
// an unknown service or file system. It listens on loopback only.
type Control struct {
	sim *Sim
	// notify is told what was done, for the demo's output.
	notify func(string)
	srv    *http.Server
	ln     net.Listener
	done   chan struct{}
}

// NewControl returns the control endpoint of sim; notify (may be nil) is
// called with a sentence for every action taken.
func NewControl(sim *Sim, notify func(string)) *Control {
	c := &Control{sim: sim, notify: notify, done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /services/restart", c.restart)
	mux.HandleFunc("POST /services/cleanup-logs", c.cleanup)
	c.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return c
}

// Start listens on a free loopback port and serves in the background.
func (c *Control) Start(context.Context) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo control endpoint: %w", err)
	}
	c.ln = ln
	go func() {
		defer close(c.done)
		_ = c.srv.Serve(ln)
	}()
	return nil
}

// URL returns the endpoint's base URL, once started.
func (c *Control) URL() string { return "http://" + c.ln.Addr().String() }

// Shutdown stops the endpoint.
func (c *Control) Shutdown(ctx context.Context) error {
	if c.ln == nil {
		return nil
	}
	err := c.srv.Shutdown(ctx)
	<-c.done
	return err
}

type controlRequest struct {
	Service    string `json:"service"`
	Mountpoint string `json:"mountpoint"`
	Reason     string `json:"reason"`
}

func decodeControl(w http.ResponseWriter, r *http.Request) (controlRequest, bool) {
	var req controlRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	if err := dec.Decode(&req); err != nil || req.Service == "" {
		http.Error(w, `want a JSON object with "service"`, http.StatusBadRequest)
		return req, false
	}
	return req, true
}

func (c *Control) restart(w http.ResponseWriter, r *http.Request) {
	req, ok := decodeControl(w, r)
	if !ok {
		return
	}
	ended, err := c.sim.Restart(req.Service)
	if err != nil {
		c.fail(w, err)
		return
	}
	msg := fmt.Sprintf("restarted %s", req.Service)
	if ended {
		msg += ": the crash loop is over"
	}
	if req.Reason != "" {
		msg += " (" + req.Reason + ")"
	}
	c.tell(msg)
	writeJSON(w, map[string]any{"service": req.Service, "restarted": true, "crashLoopEnded": ended})
}

func (c *Control) cleanup(w http.ResponseWriter, r *http.Request) {
	req, ok := decodeControl(w, r)
	if !ok {
		return
	}
	freed, err := c.sim.CleanupLogs(req.Service, req.Mountpoint)
	if err != nil {
		c.fail(w, err)
		return
	}
	c.tell(fmt.Sprintf("cleaned up old logs on %s %s, %.1f GiB freed", req.Service, req.Mountpoint, freed/gib))
	writeJSON(w, map[string]any{"service": req.Service, "mountpoint": req.Mountpoint, "freedBytes": freed})
}

func (c *Control) fail(w http.ResponseWriter, err error) {
	code := http.StatusBadRequest
	if errors.Is(err, ErrUnknownService) || errors.Is(err, errUnknownMount) {
		code = http.StatusNotFound
	}
	http.Error(w, err.Error(), code)
}

func (c *Control) tell(msg string) {
	if c.notify != nil {
		c.notify(msg)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
