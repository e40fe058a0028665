-- Each desk's login number: the prefix of the Jobnet usernames it makes
-- (core::credentials), unique across desks by construction. Training desks
-- draw theirs from 2^31 up, so enrolled desks stay below.
ALTER TABLE desks ADD COLUMN login_number integer GENERATED ALWAYS AS IDENTITY UNIQUE;
