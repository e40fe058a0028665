-- What each desk last said it runs: the protocol and app versions of its
-- signed requests (NULL for desks older than versioning), and when. The
-- operations and fleet work show and enforce them.
ALTER TABLE desks ADD COLUMN protocol_version text;
ALTER TABLE desks ADD COLUMN app_version text;
ALTER TABLE desks ADD COLUMN version_seen_at timestamptz;
