-- What a municipality sets for every desk of its own (the privacy notice,
-- the initial password's lapse, the idle lock, the handout languages), by
-- the desk's setting key, and the deployment's settings (the minimum desk
-- version that may issue). Both travel to desks in signed sync answers;
-- every change is in operator_log.
CREATE TABLE municipality_settings (
    municipality integer NOT NULL CHECK (municipality BETWEEN 101 AND 999),
    key text NOT NULL,
    value text NOT NULL,
    set_at timestamptz NOT NULL DEFAULT now(),
    set_by text NOT NULL,
    PRIMARY KEY (municipality, key)
);

CREATE TABLE deployment_settings (
    key text PRIMARY KEY,
    value text NOT NULL,
    set_at timestamptz NOT NULL DEFAULT now(),
    set_by text NOT NULL
);
