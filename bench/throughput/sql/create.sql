\set r random(1, 1000000000)
INSERT INTO customer (name, email, status, credit_balance, version, created_at, updated_at)
VALUES ('Bench Create', 'pgb-' || :client_id || '-' || :r || '-' || txid_current() || '@bench.example', 'ACTIVE', 0, 0, now(), now());
