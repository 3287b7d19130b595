\set id random(1, :accounts)
SELECT id, name, email, phone, status, credit_balance, version, created_at, updated_at FROM customer WHERE id = :id;
