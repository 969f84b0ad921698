// Package agent is "osprey agent": it runs on a server, collects the host's
// metrics and the lines of its log files, and ships them to an Osprey server
// over the protocols Osprey receives anyway, remote_write and Loki push.
//
// # Host metrics
//
// Every interval the agent reads /proc (with github.com/prometheus/procfs)
// and statfs(2), and names what it reads as node_exporter does, so that
// node_exporter dashboards, Osprey's forecast rules and PromQL written for
// node_exporter work unchanged: node_cpu_seconds_total{cpu,mode},
// node_memory_*_bytes, node_load1/5/15, node_disk_*{device},
// node_filesystem_{size,free,avail}_bytes and _files{_free}
// {device,fstype,mountpoint} (pseudo file systems left out as node_exporter
// leaves them out), node_network_{receive,transmit}_{bytes,packets,errs,drop}_total{device},
// node_procs_running/blocked, node_processes_pids, node_boot_time_seconds,
// node_context_switches_total, node_forks_total. Every series has
// job="node" and instance=<host name>. The agent's own counts go along as
// osprey_agent_* series (spooled, dropped, sent, failed).
//
// # Log files
//
// The files are tailed with internal/ingest/filetail (globs, rotation,
// offsets under the data directory); each line is sent with its labels
// (filename, source, the configured ones) and the agent's identity:
// instance, and host and job (LogJob) unless the configured labels set
// them. The server's Loki receiver overwrites source with "loki" (keeping
// the agent's as exported_source), so job, host and instance are what tell
// the agent's lines apart there.
//
// # Delivery
//
// Every request is first written to a spool directory under the data
// directory (one file per request, written atomically) and then sent,
// oldest first, by one sender: a remote_write request as snappy
// protobuf to POST /api/v1/write, a log batch as gzip JSON to
// POST /loki/api/v1/push, with the bearer token. A 2xx reply removes the
// request; a 4xx reply other than 408 and 429 removes it too (resending
// cannot help) and is counted as refused; anything else (no connection,
// 5xx, 429) is retried with exponential backoff and jitter, from 1s to 1m.
// The spool is bounded (--spool-max-bytes): the oldest requests are dropped
// beyond it and counted. A log line's offset is committed only once its
// request is in the spool, so neither an outage nor a restart loses lines.
package agent
