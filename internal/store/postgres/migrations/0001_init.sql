-- Osprey's initial schema for PostgreSQL. Times are BIGINT Unix nanoseconds
-- (the zero time is -9223372036854775808); JSON columns are TEXT. See the
-- sqlstore package documentation for the conventions.

CREATE TABLE events (
	seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id          TEXT    NOT NULL UNIQUE,
	source      TEXT    NOT NULL,
	name        TEXT    NOT NULL,
	labels      TEXT    NOT NULL,
	annotations TEXT    NOT NULL,
	severity    BIGINT  NOT NULL,
	status      TEXT    NOT NULL,
	starts_at   BIGINT  NOT NULL,
	ends_at     BIGINT  NOT NULL,
	fingerprint TEXT    NOT NULL,
	received_at BIGINT  NOT NULL
);
CREATE INDEX events_fingerprint_seq ON events (fingerprint, seq);
CREATE INDEX events_received_at ON events (received_at);

CREATE TABLE incidents (
	id          TEXT    PRIMARY KEY,
	title       TEXT    NOT NULL,
	status      TEXT    NOT NULL,
	severity    BIGINT  NOT NULL,
	labels      TEXT    NOT NULL,
	assignee    TEXT    NOT NULL,
	opened_at   BIGINT  NOT NULL,
	updated_at  BIGINT  NOT NULL,
	resolved_at BIGINT  NOT NULL,
	members     TEXT    NOT NULL,
	causes      TEXT    NOT NULL
);
CREATE INDEX incidents_updated ON incidents (updated_at, id);
CREATE INDEX incidents_status_updated ON incidents (status, updated_at, id);

CREATE TABLE timeline (
	seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	incident_id TEXT    NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
	at          BIGINT  NOT NULL,
	kind        TEXT    NOT NULL,
	actor       TEXT    NOT NULL,
	message     TEXT    NOT NULL,
	ref         TEXT    NOT NULL
);
CREATE INDEX timeline_incident_seq ON timeline (incident_id, seq);

CREATE TABLE anomalies (
	id          TEXT    PRIMARY KEY,
	kind        TEXT    NOT NULL,
	labels      TEXT    NOT NULL,
	template_id TEXT    NOT NULL,
	score       DOUBLE PRECISION NOT NULL,
	observed    DOUBLE PRECISION NOT NULL,
	expected    DOUBLE PRECISION NOT NULL,
	lower_bound DOUBLE PRECISION NOT NULL,
	upper_bound DOUBLE PRECISION NOT NULL,
	severity    BIGINT  NOT NULL,
	starts_at   BIGINT  NOT NULL,
	ends_at     BIGINT  NOT NULL,
	evidence    TEXT    NOT NULL,
	fingerprint TEXT    NOT NULL
);
CREATE INDEX anomalies_starts ON anomalies (starts_at, id);
CREATE INDEX anomalies_fingerprint_starts ON anomalies (fingerprint, starts_at);
CREATE INDEX anomalies_ends_starts ON anomalies (ends_at, starts_at);

CREATE TABLE anomaly_feedback (
	anomaly_id TEXT    PRIMARY KEY REFERENCES anomalies (id) ON DELETE CASCADE,
	verdict    TEXT    NOT NULL,
	actor      TEXT    NOT NULL,
	at         BIGINT  NOT NULL
);

CREATE TABLE log_templates (
	id         TEXT    PRIMARY KEY,
	source     TEXT    NOT NULL,
	template   TEXT    NOT NULL,
	seen_count BIGINT  NOT NULL,
	first_seen BIGINT  NOT NULL,
	last_seen  BIGINT  NOT NULL,
	sample     TEXT    NOT NULL,
	alias_of   TEXT    NOT NULL
);
CREATE INDEX log_templates_count ON log_templates (seen_count, id);
CREATE INDEX log_templates_source_count ON log_templates (source, seen_count, id);

CREATE TABLE silences (
	id         TEXT    PRIMARY KEY,
	matchers   TEXT    NOT NULL,
	starts_at  BIGINT  NOT NULL,
	ends_at    BIGINT  NOT NULL,
	created_by TEXT    NOT NULL,
	comment    TEXT    NOT NULL
);
CREATE INDEX silences_ends ON silences (ends_at, id);

CREATE TABLE runbook_runs (
	id           TEXT    PRIMARY KEY,
	runbook      TEXT    NOT NULL,
	incident_id  TEXT    NOT NULL,
	status       TEXT    NOT NULL,
	dry_run      BOOLEAN NOT NULL,
	approved_by  TEXT    NOT NULL,
	requested_at BIGINT  NOT NULL,
	started_at   BIGINT  NOT NULL,
	finished_at  BIGINT  NOT NULL,
	actions      TEXT    NOT NULL
);
CREATE INDEX runbook_runs_requested ON runbook_runs (requested_at, id);
CREATE INDEX runbook_runs_incident_requested ON runbook_runs (incident_id, requested_at, id);

CREATE TABLE audit_log (
	seq    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at     BIGINT  NOT NULL,
	actor  TEXT    NOT NULL,
	action TEXT    NOT NULL,
	object TEXT    NOT NULL,
	detail TEXT    NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at, seq);

CREATE TABLE checkpoints (
	name     TEXT    PRIMARY KEY,
	position BIGINT  NOT NULL
);
