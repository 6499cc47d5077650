DROP INDEX events_audit_at_idx;
DROP INDEX custom_distros_name_trgm_idx;
DROP INDEX distros_name_trgm_idx;
DROP INDEX servers_name_trgm_idx;
DROP INDEX containers_name_trgm_idx;
DROP INDEX customers_company_trgm_idx;
DROP INDEX users_email_trgm_idx;
DROP INDEX users_username_trgm_idx;
