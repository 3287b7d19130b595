-- Ledger audits and retention by time read credit_transfer by created_at, and the ledger grows
-- without bound. Built CONCURRENTLY, so transfers go on while it builds: Flyway runs this script
-- outside a transaction, statement by statement. A build that gave up (DB_MIGRATION_LOCK_TIMEOUT,
-- a cancel) leaves an INVALID index behind: dropped first, so the retry starts clean.
DROP INDEX CONCURRENTLY IF EXISTS credit_transfer_created_idx;
CREATE INDEX CONCURRENTLY credit_transfer_created_idx ON credit_transfer (created_at);
