CREATE TABLE sixth (id int);
