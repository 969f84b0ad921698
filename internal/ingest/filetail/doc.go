// Package filetail tails log files: the paths and globs of the files
// configuration, each line handed on as an osprey.LogRecord, the same path
// as lines pushed to the Loki receiver (bus.Logs, then the template miner).
//
// # How files are followed
//
// The tailer polls (tail.poll_interval): it expands every glob, so files
// that come to match are picked up, and reads what was appended to each
// file since the last poll. A line is handed on once its newline has been
// written; a last line without one waits for it. Lines longer than
// tail.max_line_bytes are dropped and counted (too_large).
//
//   - Rotation by rename (logrotate's default, create): when the path
//     names another file (device and inode differ) than the one open, the
//     open file is read to its end (a last line without newline is handed
//     on too: nothing will complete it), closed, and the new file at the
//     path is read from its start. A rotated file that the glob also
//     matches (app.log.1 for app.log*) is not read again: files are known
//     by device and inode, and it continues where the old path left off.
//   - Rotation by copytruncate: when the file is shorter than the offset
//     read, it was truncated, and is read again from its start.
//   - A file that is removed is read to its end and forgotten.
//
// # Offsets
//
// The offset of every file (with its identity: device, inode, and a
// SHA-256 of its first bytes, against inode reuse) is written to a state
// file under the data directory (atomically: a temporary file, fsync,
// rename) after each batch of lines was handed on successfully, and read
// at start. So a restart neither loses nor repeats lines; only a crash
// between a hand-off and the state write repeats that one batch. When the
// consumer refuses a batch (the bus is full) the offset stays, and the
// lines are read again at the next poll. A file rotated away while Osprey
// was stopped is found again in its directory by its identity and read to
// its end.
//
// Files found with no saved state are read from their start, as Promtail
// does.
//
// # Labels and data quality
//
// Each record has the labels filename (the path), source (the entry's
// source, default "file") and the entry's labels; its time is when it was
// read, its level what logparse finds in the line. Lines accepted and
// rejected are counted in ingest.Stats as receiver "file", one request per
// batch.
package filetail
