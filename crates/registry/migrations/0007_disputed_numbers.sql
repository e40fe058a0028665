-- Disputed numbers: every number that reached the registry in an `issued`
-- event it kept as a conflict (a cloned or restored desk reusing a record
-- ID or an idempotency key with other content). Such an event's number is
-- on an applicant's handout although no accepted record holds it, so it is
-- never allocated or leased out again and the desk holding its unit is told
-- it is used. Events kept as `invalid` count too, but only the first 50 of
-- each desk, so that no desk can burn the block by sending refused events.
-- A view, not a table: the kept events are the record, and nothing can
-- drift from them.
CREATE VIEW disputed_numbers AS
SELECT number, desk_id, record_id, idempotency_key, reason, received_at
FROM (
    SELECT translate(c.body->'payload'->>'number', '-', '')::char(10) AS number,
           c.desk_id,
           c.body->'payload'->>'record_id' AS record_id,
           c.idempotency_key,
           c.reason,
           c.received_at,
           row_number() OVER (PARTITION BY c.desk_id, c.reason LIKE 'invalid:%' ORDER BY c.id) AS nth
    FROM conflicts c
    WHERE c.body->>'kind' = 'issued'
      AND c.body->'payload'->>'number' ~ '^[0-9]{6}-?[0-9]{4}$'
      -- A number outside the registry's block was never its to hand out.
      AND c.reason <> 'invalid:number_outside_block'
) kept
WHERE reason NOT LIKE 'invalid:%' OR nth <= 50;
