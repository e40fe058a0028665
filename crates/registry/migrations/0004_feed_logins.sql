-- The feed carries every Jobnet login, and CPR or Jobnet can refuse a record.

-- A downstream refusal (POST /v1/feed/confirm): which system, its reason
-- code, when. The record's state stays 'received' (a desk from before
-- refusals existed reads its state as before); the refusal stands until a
-- reprint, a login amendment or a registration clears it. Each change moves
-- state_seq, so the desk learns it at its next sync.
ALTER TABLE records ADD COLUMN refused_downstream_by text CHECK (refused_downstream_by IN ('cpr', 'jobnet'));
ALTER TABLE records ADD COLUMN refused_downstream_reason text;
ALTER TABLE records ADD COLUMN refused_downstream_at timestamptz;
CREATE INDEX records_refused_downstream ON records (refused_downstream_at) WHERE refused_downstream_by IS NOT NULL;

-- Every feed item's payload is the event's own body. Reprints and voids were
-- written as the tagged event ({kind, payload}); unwrap them.
UPDATE feed SET payload = payload->'payload'
 WHERE jsonb_typeof(payload->'payload') = 'object' AND payload ? 'kind';

-- A reprint's item names the login its new password belongs to: fill it
-- from the record for items written before desks sent it.
UPDATE feed f SET payload = f.payload || jsonb_build_object('jobnet_username', r.content->>'jobnet_username')
  FROM records r
 WHERE f.kind = 'reprinted' AND r.record_id = f.record_id
   AND NOT f.payload ? 'jobnet_username' AND coalesce(r.content->>'jobnet_username', '') <> '';
UPDATE feed SET payload = payload || '{"jobnet_username": ""}'::jsonb
 WHERE kind = 'reprinted' AND NOT payload ? 'jobnet_username';
