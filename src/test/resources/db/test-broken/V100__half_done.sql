CREATE TABLE half_done (id int);
ALTER TABLE customer ADD COLUMN half int;
SELECT 1 / 0;
