// Package sqlstore implements store.Store once for every SQL backend, so that
// SQLite and PostgreSQL share their queries. A backend package (sqlite,
// postgres) opens its connections, wraps them in a DB, describes what differs
// in a Dialect, and hands both to Open, which applies the backend's schema
// migrations and returns the Store.
//
// The SQL here is the subset both dialects agree on: $1-style placeholders
// (SQLite binds $N to the N-th argument), INSERT ... ON CONFLICT DO UPDATE,
// RETURNING, and LIMIT. What differs (locking, substring search, how a unique
// violation is reported) comes from the Dialect.
//
// Storage conventions, which every migration follows:
//
//   - Times are BIGINT Unix nanoseconds, so they round-trip exactly and order
//     correctly; the zero time.Time is stored as math.MinInt64, the earliest
//     storable instant, so it sorts first in both dialects without NULLs.
//     Times outside 1677-09-21 .. 2262-04-11 cannot be stored.
//   - Labels, annotations, members, causes, evidence, matchers and actions are
//     JSON text; columns that queries filter or sort on are real columns with
//     indexes.
//   - Fingerprints are their 16-hex-digit strings.
package sqlstore
