// Command svc is the small HTTP service TestRemediationRealProcess watches,
// kills and has a runbook restart. It answers GET /healthz with "ok" and
// GET /metrics with one gauge in the Prometheus text format, and once it
// listens it writes its pid to -pidfile (atomically, by rename), so that a
// restart script can tell that it is up and the test can stop it.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	pidFile := flag.String("pidfile", "", "file to write the pid to once listening")
	flag.Parse()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("listen %s: %v", *addr, err)
	}
	if *pidFile != "" {
		tmp := *pidFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			log.Fatalf("write pid file: %v", err)
		}
		if err := os.Rename(tmp, *pidFile); err != nil {
			log.Fatalf("write pid file: %v", err)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# HELP svc_pid The process id of the service.\n# TYPE svc_pid gauge\nsvc_pid %d\n", os.Getpid())
	})
	log.Printf("svc %d listening on %s", os.Getpid(), ln.Addr())
	log.Fatal(http.Serve(ln, mux))
}
