-- Responses to keyed POSTs. A request claims its key first (a concurrent twin blocks on the primary
-- key until the claim commits or rolls back), then fills in the response in the same transaction as
-- the resource it created: a key is visible if and only if its write committed.
CREATE TABLE idempotency_key (
    idempotency_key VARCHAR(200) NOT NULL,
    operation       VARCHAR(64)  NOT NULL,
    request_hash    CHAR(64)     NOT NULL,
    response_status INTEGER,
    response_body   TEXT,
    resource_id     BIGINT,
    created_at      TIMESTAMPTZ  NOT NULL DEFAULT now(),
    expires_at      TIMESTAMPTZ  NOT NULL,
    PRIMARY KEY (operation, idempotency_key)
);
CREATE INDEX idempotency_key_expires_idx ON idempotency_key (expires_at);
