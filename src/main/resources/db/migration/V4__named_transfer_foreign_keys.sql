-- Name the ledger's foreign keys, so a refused customer delete can say what still refers to it.
ALTER TABLE credit_transfer RENAME CONSTRAINT credit_transfer_from_id_fkey TO credit_transfer_from_fk;
ALTER TABLE credit_transfer RENAME CONSTRAINT credit_transfer_to_id_fkey TO credit_transfer_to_fk;
