-- The staff search finds customers, logins, containers, servers and distros by any part of a
-- name, an e-mail or a company: trigram indexes serve `ILIKE '%fragment%'` without a scan.
-- pg_trgm is a trusted extension (PostgreSQL 13+), so the database's owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX users_username_trgm_idx ON users USING gin (username gin_trgm_ops);
CREATE INDEX users_email_trgm_idx ON users USING gin (email gin_trgm_ops);
CREATE INDEX customers_company_trgm_idx ON customers USING gin (company gin_trgm_ops);
CREATE INDEX containers_name_trgm_idx ON containers USING gin (name gin_trgm_ops);
CREATE INDEX servers_name_trgm_idx ON servers USING gin (name gin_trgm_ops);
CREATE INDEX distros_name_trgm_idx ON distros USING gin (name gin_trgm_ops);
CREATE INDEX custom_distros_name_trgm_idx ON custom_distros USING gin (name gin_trgm_ops);
-- the audit trail pages by time and is pruned by age
CREATE INDEX events_audit_at_idx ON events (at DESC, id DESC) WHERE kind = 'audit';
