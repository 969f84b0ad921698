package cli

import (
	"os"
	"os/signal"
	"syscall"
)

// reloadSignal delivers on the returned channel each time the process gets
// SIGHUP (without blocking the signal handler: one pending reload is
// enough), until stop is called.
func reloadSignal() (<-chan struct{}, func()) {
	sig := make(chan os.Signal, 1)
	out := make(chan struct{}, 1)
	done := make(chan struct{})
	signal.Notify(sig, syscall.SIGHUP)
	go func() {
		for {
			select {
			case <-done:
				return
			case <-sig:
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	return out, func() {
		signal.Stop(sig)
		close(done)
	}
}
