-- The notification log: one row per (incident, receiver, key), claimed
-- before a notification is sent, so that a restart or a second notifier
-- never sends the same notification twice. Times are Unix nanoseconds.

CREATE TABLE notifications (
	id          TEXT    PRIMARY KEY,
	incident_id TEXT    NOT NULL,
	receiver    TEXT    NOT NULL,
	nkey        TEXT    NOT NULL,
	status      TEXT    NOT NULL,
	attempts    BIGINT  NOT NULL,
	last_error  TEXT    NOT NULL,
	claimed_by  TEXT    NOT NULL,
	claimed_at  BIGINT  NOT NULL,
	finished_at BIGINT  NOT NULL,
	UNIQUE (incident_id, receiver, nkey)
);
CREATE INDEX notifications_claimed ON notifications (claimed_at, id);
CREATE INDEX notifications_incident_claimed ON notifications (incident_id, claimed_at, id);
