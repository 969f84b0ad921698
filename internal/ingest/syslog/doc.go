// Package syslog receives syslog messages, RFC 5424 and RFC 3164, over UDP
// and TCP, and hands them on as osprey.LogRecords, so that rsyslog,
// syslog-ng, network devices and util-linux's logger can send to Osprey as
// they send to any syslog server.
//
// # Transports
//
// UDP carries one message per datagram (RFC 5426). TCP carries either of RFC
// 6587's framings, told apart per connection by its first byte: a digit
// starts octet counting ("MSG-LEN SP MSG", what rsyslog sends with
// TCP_Framing="octet-counted" and logger with --octet-count), anything else
// newline framing (one message per line, the traditional way). Messages
// longer than MaxMessageBytes are dropped and counted as too_large; on TCP
// the stream stays in step. A broken octet count cannot be resynchronised:
// it is counted as malformed and the connection closed. Each TCP read has an
// IdleTimeout deadline, and at most MaxConnections are open at once.
//
// # Parsing
//
// Messages are parsed by logparse.ParseSyslog: RFC 5424 strictly (a header
// that breaks the RFC is malformed and dropped), RFC 3164 leniently, as that
// RFC asks of receivers (no PRI means user.notice, a missing timestamp
// means the receive time). RFC 3164 timestamps have no year and no zone: they
// are read in Location and given the year that puts them nearest to now.
//
// # Records
//
//   - Time: the message's timestamp in UTC, else the receive time.
//   - Labels: source="syslog", host (HOSTNAME, else the sender's IP
//     address), app (APP-NAME or TAG) when present.
//   - Level: the severity, as logparse's canonical words: emerg, alert and
//     crit are critical, err error, warning warning, notice and info info,
//     debug debug.
//   - Body: MSG, without leading spaces (rsyslog's RFC 5424 templates
//     keep the space that followed an RFC 3164 TAG).
//   - Attributes: facility and severity (keywords), syslog_format, procid,
//     msgid, peer (the sending address), and every structured-data
//     parameter as "SD-ID.PARAM-NAME" (timeQuality.tzKnown).
//
// # Batching and data quality
//
// Records are handed to the consumer in batches of BatchSize, or every
// FlushInterval, whichever comes first; Shutdown hands on the rest. A batch
// the consumer refuses is lost (syslog cannot ask for a resend) and counted
// as store_error. The receiver counts in ingest.Stats as "syslog": items are
// messages, and a "request" is a batch handed on or a single message
// dropped (malformed, too_large), or a connection refused (too_many).
package syslog
