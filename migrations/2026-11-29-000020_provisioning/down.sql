ALTER TABLE distros DROP COLUMN retired_at;
DROP TABLE password_links;
