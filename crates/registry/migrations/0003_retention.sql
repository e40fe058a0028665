-- Retention of personal data (privacy::purge) counts from registration: the
-- downstream consumer's confirmation. Records registered before this column
-- existed count from their receipt, the closest time the registry kept.
ALTER TABLE records ADD COLUMN registered_at timestamptz;
UPDATE records SET registered_at = received_at WHERE state = 'registered';

-- When the registry erased the personal data of a record or a kept
-- conflicting event; the number, dates, state and keyed hashes stay.
ALTER TABLE records ADD COLUMN personal_erased_at timestamptz;
ALTER TABLE conflicts ADD COLUMN personal_erased_at timestamptz;
CREATE INDEX records_retention ON records (registered_at) WHERE personal_erased_at IS NULL;

-- The one definition of what erasure removes from a record's JSON (an
-- `issued` record or event payload, a reprint, a correction): the names,
-- the nationality, the document summary and the password hash.
CREATE FUNCTION skranke_erase_person(j jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN j IS NULL OR jsonb_typeof(j) <> 'object' THEN j
        WHEN jsonb_typeof(j->'person') = 'object'
            THEN jsonb_set(j, '{person}', (j->'person') - ARRAY['name_document', 'name_latin', 'nationality', 'document'])
                 - 'password_hash'
        ELSE j - 'password_hash'
    END
$$;
