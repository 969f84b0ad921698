// Package logparse splits log lines into their header (time, level,
// component, host) and the message that the template miner works on.
//
// Two ways are offered. A user format in logparser notation
// ("<Date> <Time> <Level> <Component>: <Content>") is compiled by Compile into
// a backtracking matcher that finds literal separators with strings.Index and
// allocates nothing per line. Without a format, Detect recognises the common
// layouts: JSON objects, logfmt, RFC 5424 and RFC 3164 syslog, and lines
// starting with an ISO-8601 or epoch timestamp and a level word.
//
// Neither ever panics on any input; both are fuzzed.
package logparse
