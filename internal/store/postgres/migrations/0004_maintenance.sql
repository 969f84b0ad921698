-- Maintenance windows created through the API (the configured ones live in
-- the configuration file). A one-off window has starts_at < ends_at and an
-- empty schedule; a recurring one has zero times and its weekly schedule
-- as JSON.
CREATE TABLE maintenance_windows (
	id         TEXT    PRIMARY KEY,
	name       TEXT    NOT NULL,
	matchers   TEXT    NOT NULL,
	starts_at  BIGINT  NOT NULL,
	ends_at    BIGINT  NOT NULL,
	schedule   TEXT    NOT NULL,
	created_by TEXT    NOT NULL,
	created_at BIGINT  NOT NULL,
	comment    TEXT    NOT NULL
);
