package jetstream

// Queued returns how many fetched batches of topic wait in group's
// delivery-loop queues in b (coalescing topics only), so that a test can
// wait until what it published is there.
func Queued(b *Bus, topic, group string) int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	n := 0
	for _, c := range b.consumes {
		if c.g.topic.name == topic && c.g.name == group && c.queue != nil {
			n += len(c.queue)
		}
	}
	return n
}
