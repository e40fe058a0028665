-- The duplicate keys (records.document_key/person_key and their copies in
-- records.content, events.body, conflicts.body, feed.payload) are kept keyed:
-- HMAC-SHA256 under the registry's duplicate secret, which lives in the key
-- file, never here (src/duplicates.rs). The secret is not in SQL, so the
-- re-keying of hashes stored before is a step in Rust (`duplicates::rekey`),
-- run once at startup: this row says whether it has run, and with which
-- secret (its fingerprint, not the secret). NULL: stored hashes are unkeyed.
CREATE TABLE duplicate_keying (
    id           boolean PRIMARY KEY DEFAULT true CHECK (id),
    fingerprint  text,
    keyed_at     timestamptz
);
INSERT INTO duplicate_keying DEFAULT VALUES;
