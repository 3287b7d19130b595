-- a transfer between hot rows as the service does it: lock both in ascending id order, move, log
\set a random(1, 10)
\set b 1 + (:a + random(0, 8)) % 10
\set lo least(:a, :b)
\set hi greatest(:a, :b)
BEGIN;
SELECT id, credit_balance, version FROM customer WHERE id = :lo FOR UPDATE;
SELECT id, credit_balance, version FROM customer WHERE id = :hi FOR UPDATE;
UPDATE customer SET credit_balance = credit_balance - 1, version = version + 1, updated_at = now() WHERE id = :a;
UPDATE customer SET credit_balance = credit_balance + 1, version = version + 1, updated_at = now() WHERE id = :b;
INSERT INTO credit_transfer (from_id, to_id, amount, created_at) VALUES (:a, :b, 1, now());
COMMIT;
