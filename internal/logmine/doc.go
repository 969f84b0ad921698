// Package logmine mines log templates online: it masks the variables of each
// message with a hand-written scanner (numbers, hex, addresses, UUIDs, paths,
// URLs, durations, sizes, quoted and key=value values) and groups the masked
// lines into templates such as "Received block <*> of size <*> from <*>".
//
// One default configuration serves every source. Templates generalise as
// evidence accumulates (a position whose tokens differ in values becomes a
// variable at once; one whose tokens differ in words only after several
// distinct words), merged templates keep their ids as aliases, ids derive
// from the template's first form so they are stable across runs and can be
// restored from the store, and memory is bounded per source.
//
// Miner is the single-goroutine core; Set mines many sources, implements
// osprey.LogConsumer and reports new and merged templates. See docs/logs.md
// for the design and the measured accuracy and speed.
package logmine
