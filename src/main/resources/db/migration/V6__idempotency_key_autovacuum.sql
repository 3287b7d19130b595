-- idempotency_key is a queue by time: a keyed write inserts a row, the clean-up deletes it once expired
-- (IDEMPOTENCY_TTL). At the default thresholds (vacuum once 20 % of the rows are dead) a table of
-- 10 M keys carries up to 2 M dead rows, and every clean-up batch, which reads expires_at from its
-- oldest end, walks over their index entries first. Vacuum it at 2 % dead (and at least every
-- 10,000), analyze at 5 %: the table and its indexes stay near the live keys' size under a steady
-- create rate. SET only changes storage parameters (SHARE UPDATE EXCLUSIVE): reads and writes go on.
ALTER TABLE idempotency_key SET (
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_threshold = 10000,
    autovacuum_vacuum_insert_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.05
);
