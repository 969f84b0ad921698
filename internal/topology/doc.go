// Package topology learns the service call graph from trace spans: an edge
// caller → callee for every span whose parent belongs to another service
// (for instrumented calls, the callee's SERVER span under the caller's
// CLIENT span). Each edge keeps, per time window, the request count, the
// error count and a fixed-bucket latency histogram from which quantiles are
// read.
//
// Spans of one trace arrive in any order and in different batches (each
// service exports its own). A span whose parent has not been seen waits in
// a bounded pending map until the parent arrives or its TTL passes; every
// span seen is remembered (bounded, with the same TTL) so that its late
// children can find it. Edges, windows, pending and remembered spans are all
// capped, and what the caps turn away is counted.
//
// The correlate stage reads the graph as topology (Edges, Neighbours) and
// the root-cause ranking as Calls, which remembers an idle edge for
// Options.Retain (24h) with a decaying request weight; the API serves it as GET /api/v1/topology. Windows are measured on the
// injected clock (the arrival time of spans), so a replay in virtual time
// builds the same graph.
package topology
