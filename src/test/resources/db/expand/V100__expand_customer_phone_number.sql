-- Release N+1, expand: rename customer.phone to phone_number without breaking the pods of release N,
-- which still read and write phone during the rolling update. The new column is added and filled,
-- and a trigger keeps the two in step whichever one a pod writes.
ALTER TABLE customer ADD COLUMN phone_number VARCHAR(40);
UPDATE customer SET phone_number = phone WHERE phone IS NOT NULL;

CREATE FUNCTION customer_phone_in_step() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.phone_number := coalesce(NEW.phone_number, NEW.phone);
        NEW.phone := coalesce(NEW.phone, NEW.phone_number);
    ELSIF NEW.phone IS DISTINCT FROM OLD.phone THEN
        NEW.phone_number := NEW.phone;           -- written by a pod of release N
    ELSIF NEW.phone_number IS DISTINCT FROM OLD.phone_number THEN
        NEW.phone := NEW.phone_number;           -- written by a pod of release N+1
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER customer_phone_in_step BEFORE INSERT OR UPDATE ON customer
    FOR EACH ROW EXECUTE FUNCTION customer_phone_in_step();
