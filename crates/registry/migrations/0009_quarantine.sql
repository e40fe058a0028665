-- Quarantine: a desk whose audit chain forked (an audit entry kept as
-- `conflict:audit_chain`: a copied disk, or a restore, running under the
-- same desk ID) reuses record IDs, outbox keys and usernames, and the
-- registry cannot tell its copies apart. From then on the desk ID gets no
-- lease and no online number; it still uploads and syncs, so nothing either
-- copy issued is lost. Set once, by the first fork; the operator re-enrols
-- the machine as a new desk.
ALTER TABLE desks ADD COLUMN quarantined_at timestamptz;
