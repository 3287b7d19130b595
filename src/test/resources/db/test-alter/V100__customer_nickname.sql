-- needs ACCESS EXCLUSIVE on customer: queued behind any open transaction that read the table
ALTER TABLE customer ADD COLUMN nickname text;
