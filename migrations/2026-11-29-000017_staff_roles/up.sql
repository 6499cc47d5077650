-- Staff have a role: support reads and acts on a customer's behalf; admin also provisions
-- and manages staff. Staff accounts made before roles existed keep every power they had.
ALTER TABLE users ADD COLUMN staff_role TEXT CHECK (staff_role IN ('support', 'admin'));
UPDATE users SET staff_role = 'admin' WHERE role = 'staff';
ALTER TABLE users ADD CONSTRAINT users_staff_role
    CHECK ((role = 'staff') = (staff_role IS NOT NULL));
