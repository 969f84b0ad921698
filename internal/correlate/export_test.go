package correlate

import "context"

// Sweep runs the idle-time expiry the stage's timer runs, at the clock's
// time, so tests need not wait for the timer.
func (c *Correlator) Sweep(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sweepLocked(ctx)
}
