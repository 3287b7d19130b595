-- Release N+2, contract: no pod of release N is left, nothing reads or writes phone any more.
DROP TRIGGER customer_phone_in_step ON customer;
DROP FUNCTION customer_phone_in_step();
ALTER TABLE customer DROP COLUMN phone;
