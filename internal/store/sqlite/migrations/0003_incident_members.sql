-- Incident members move to their own rows, keyed by (incident, position in
-- Incident.Members), so that the correlate stage writes only the members a
-- signal changed instead of re-encoding the whole incident (which made large
-- incidents cost quadratically). The member stays JSON, as it was inside
-- incidents.members. Existing members are copied over.
--
-- noise_counts holds the correlate stage's noise counters per minute,
-- source, rule and outcome, added in the same transaction as the incident
-- changes and the checkpoint (see store.Noise).

CREATE TABLE incident_members (
	incident_id TEXT    NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
	pos         INTEGER NOT NULL,
	fingerprint TEXT    NOT NULL,
	member      TEXT    NOT NULL,
	PRIMARY KEY (incident_id, pos)
) STRICT;

INSERT INTO incident_members (incident_id, pos, fingerprint, member)
SELECT i.id, CAST(m.key AS INTEGER), COALESCE(json_extract(m.value, '$.fingerprint'), ''), m.value
FROM incidents AS i, json_each(i.members) AS m
WHERE json_type(i.members) = 'array';

ALTER TABLE incidents DROP COLUMN members;

CREATE TABLE noise_counts (
	minute  INTEGER NOT NULL,
	source  TEXT    NOT NULL,
	rule    TEXT    NOT NULL,
	outcome TEXT    NOT NULL,
	n       INTEGER NOT NULL,
	PRIMARY KEY (minute, source, rule, outcome)
) STRICT;
