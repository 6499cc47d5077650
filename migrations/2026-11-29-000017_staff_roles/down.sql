ALTER TABLE users DROP CONSTRAINT users_staff_role;
ALTER TABLE users DROP COLUMN staff_role;
