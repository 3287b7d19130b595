-- optimistic update as the service does it: read the version, update only if it is unchanged.
-- pgbench updates its own rows (after the service's), so neither side invalidates the other's versions.
\set id :accounts + 1 + :client_id * 400 + random(0, 399)
BEGIN;
SELECT version FROM customer WHERE id = :id \gset
UPDATE customer SET name = 'Bench Update', updated_at = now(), version = version + 1 WHERE id = :id AND version = :version;
COMMIT;
