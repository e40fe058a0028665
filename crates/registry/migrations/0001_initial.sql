-- The registry's schema. Receipt order ("first" and "later") is the global
-- sequence registry_seq; every answer to a desk carries its current value, so
-- a desk that has seen a higher one proves the database was restored.

CREATE SEQUENCE registry_seq;

-- One row: the restore generation and whether desks must reconcile first.
CREATE TABLE registry_meta (
    id            boolean PRIMARY KEY DEFAULT true CHECK (id),
    generation    bigint NOT NULL DEFAULT 1,
    reconciling   boolean NOT NULL DEFAULT false,
    restored_at   timestamptz
);
INSERT INTO registry_meta DEFAULT VALUES;

CREATE TABLE enrolment_codes (
    code_hash     text PRIMARY KEY,          -- SHA-256 of the code; the code itself is never stored
    municipality  integer NOT NULL CHECK (municipality BETWEEN 100 AND 999),
    office        text NOT NULL,
    desk_number   integer NOT NULL CHECK (desk_number >= 0),
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    used_at       timestamptz,
    desk_id       text
);

CREATE TABLE desks (
    desk_id               text PRIMARY KEY,
    public_key            bytea NOT NULL UNIQUE CHECK (length(public_key) = 32),
    municipality          integer NOT NULL,
    office                text NOT NULL,
    desk_number           integer NOT NULL,
    enrolled_at           timestamptz NOT NULL DEFAULT now(),
    retired_at            timestamptz,
    retired_by            text,
    reconciled_generation bigint NOT NULL DEFAULT 1,
    last_sync_at          timestamptz
);

-- Nonces seen within the clock-skew window: a replayed request is refused.
CREATE TABLE request_nonces (
    desk_id  text NOT NULL,
    nonce    text NOT NULL,
    seen_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (desk_id, nonce)
);
CREATE INDEX request_nonces_seen ON request_nonces (seen_at);

-- Every lease unit of the block. A unit bound to a desk is that desk's alone;
-- a retired unit (its desk retired, or disputed after a restore) is never
-- leased again.
CREATE TABLE units (
    slot      integer NOT NULL CHECK (slot BETWEEN 0 AND 999),
    rank      integer NOT NULL CHECK (rank BETWEEN 0 AND 3),
    desk_id   text REFERENCES desks,
    bound_at  timestamptz,
    retired   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (slot, rank)
);
CREATE INDEX units_desk ON units (desk_id);

-- Answers to lease and return requests, by idempotency key.
CREATE TABLE lease_requests (
    desk_id          text NOT NULL REFERENCES desks,
    idempotency_key  text NOT NULL,
    response         jsonb NOT NULL,
    PRIMARY KEY (desk_id, idempotency_key)
);

-- Every number of the block ever used: the primary key is what makes a
-- number impossible to hand out twice.
CREATE TABLE numbers (
    number           char(10) PRIMARY KEY,
    birth_date       date NOT NULL,
    sex              char(1) NOT NULL CHECK (sex IN ('F', 'M')),
    modulus11        boolean NOT NULL,
    origin           text NOT NULL CHECK (origin IN ('online', 'lease', 'imported')),
    slot             integer NOT NULL,
    rank             integer,                    -- the lease unit holding the number, if any
    desk_id          text REFERENCES desks,
    idempotency_key  text,
    record_id        text,
    used_at          timestamptz NOT NULL DEFAULT now(),
    seq              bigint NOT NULL DEFAULT nextval('registry_seq')
);
CREATE INDEX numbers_date_sex ON numbers (birth_date, sex);
CREATE INDEX numbers_unit ON numbers (slot, rank);
CREATE UNIQUE INDEX numbers_online_key ON numbers (desk_id, idempotency_key) WHERE origin = 'online';

-- Records as received. Not unique on number: a number seen twice is a
-- conflict and both records are kept.
CREATE TABLE records (
    record_id      text PRIMARY KEY,
    desk_id        text NOT NULL REFERENCES desks,
    number         char(10) NOT NULL,
    municipality   integer NOT NULL,
    document_key   text NOT NULL,
    person_key     text NOT NULL,
    content        jsonb NOT NULL,
    content_hash   text NOT NULL,
    state          text NOT NULL DEFAULT 'received' CHECK (state IN ('received', 'registered', 'voided')),
    state_seq      bigint NOT NULL DEFAULT nextval('registry_seq'),
    replaced_by    text,
    erased_at      timestamptz,
    received_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX records_desk_state ON records (desk_id, state_seq);
CREATE INDEX records_number ON records (number);
CREATE INDEX records_document_key ON records (document_key);
CREATE INDEX records_person_key ON records (person_key);

-- Every event received, by its desk's idempotency key.
CREATE TABLE events (
    desk_id          text NOT NULL REFERENCES desks,
    idempotency_key  text NOT NULL,
    kind             text NOT NULL,
    record_id        text,
    content_hash     text NOT NULL,
    body             jsonb NOT NULL,
    seq              bigint NOT NULL DEFAULT nextval('registry_seq'),
    received_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (desk_id, idempotency_key)
);

-- Events kept although they conflicted with what the registry held.
CREATE TABLE conflicts (
    id               bigserial PRIMARY KEY,
    desk_id          text NOT NULL REFERENCES desks,
    idempotency_key  text NOT NULL,
    reason           text NOT NULL,
    body             jsonb NOT NULL,
    content_hash     text NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now()
);

-- The head of each desk's audit chain.
CREATE TABLE audit_heads (
    desk_id  text PRIMARY KEY REFERENCES desks,
    seq      bigint NOT NULL,
    hash     text NOT NULL
);

CREATE TABLE notices (
    id                  bigserial PRIMARY KEY,
    desk_id             text NOT NULL REFERENCES desks,
    kind                text NOT NULL,
    record_id           text,
    other_record_id     text,
    other_desk_id       text,
    other_municipality  integer,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notices_desk ON notices (desk_id, id);

-- Lookups are audited: who asked, when, and whether anything matched.
CREATE TABLE lookups (
    id        bigserial PRIMARY KEY,
    desk_id   text NOT NULL REFERENCES desks,
    at        timestamptz NOT NULL DEFAULT now(),
    matched   boolean NOT NULL
);

-- The outbound feed to CPR and Jobnet.
CREATE TABLE feed (
    seq         bigserial PRIMARY KEY,
    record_id   text NOT NULL,
    kind        text NOT NULL,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- What operators did on the host.
CREATE TABLE operator_log (
    id        bigserial PRIMARY KEY,
    operator  text NOT NULL,
    action    text NOT NULL,
    detail    jsonb NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);
