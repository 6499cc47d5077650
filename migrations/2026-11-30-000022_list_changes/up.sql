-- Every committed change to what a customer's container lists show (the page and the API)
-- adds a row here for that customer, in the same transaction. The sum of a customer's
-- `changes` therefore grows with every such commit and with nothing else, so a list kept in
-- memory with the sum it was read after is current exactly while the sum is unchanged.
-- Writers only insert, so no writer ever waits for another here; the sweep folds a customer's
-- rows into one row holding their sum, which leaves the sum as it was.
-- No foreign key: a change's row takes no lock on its customer's row. Customer ids are never
-- reused, and the sweep drops the rows of customers gone.
CREATE TABLE list_changes (
    customer_id INTEGER NOT NULL,
    changes     BIGINT NOT NULL DEFAULT 1 CHECK (changes > 0)
);
CREATE INDEX list_changes_customer_idx ON list_changes (customer_id) INCLUDE (changes);

-- Rows a customer owns (containers, custom distros): their owners count a change when a
-- statement inserts or deletes such a row, or changes it in a column other than the trigger's
-- arguments (columns that no list shows and that a restart touches every time).
CREATE FUNCTION list_changes_of_owned_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    unlisted text[] := COALESCE(TG_ARGV, '{}');
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO list_changes (customer_id) SELECT DISTINCT customer_id FROM added;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO list_changes (customer_id) SELECT DISTINCT customer_id FROM removed;
    ELSE
        INSERT INTO list_changes (customer_id)
        SELECT DISTINCT owner.id
        FROM before_rows b
        JOIN after_rows a ON a.id = b.id
        CROSS JOIN LATERAL (VALUES (b.customer_id), (a.customer_id)) AS owner (id)
        WHERE to_jsonb(b) - unlisted IS DISTINCT FROM to_jsonb(a) - unlisted;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER containers_listed_on_insert AFTER INSERT ON containers
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION list_changes_of_owned_rows();
CREATE TRIGGER containers_listed_on_delete AFTER DELETE ON containers
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION list_changes_of_owned_rows();
CREATE TRIGGER containers_listed_on_update AFTER UPDATE ON containers
    REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
    FOR EACH STATEMENT
    EXECUTE FUNCTION list_changes_of_owned_rows('restarted_at', 'last_reboot', 'updated_at');

-- the lists show each container's custom distro (mapped, and last booted) by name
CREATE TRIGGER custom_distros_listed_on_insert AFTER INSERT ON custom_distros
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION list_changes_of_owned_rows();
CREATE TRIGGER custom_distros_listed_on_delete AFTER DELETE ON custom_distros
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION list_changes_of_owned_rows();
CREATE TRIGGER custom_distros_listed_on_update AFTER UPDATE ON custom_distros
    REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
    FOR EACH STATEMENT EXECUTE FUNCTION list_changes_of_owned_rows();

-- Rows that containers name (servers by server_id, platform distros by distro_id, the
-- trigger's argument): the customers whose containers name a changed row count a change. A
-- deleted one changes its containers, whose own trigger counts it.
CREATE FUNCTION list_changes_of_named_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format(
        'INSERT INTO list_changes (customer_id)
         SELECT DISTINCT c.customer_id
         FROM before_rows b
         JOIN after_rows a ON a.id = b.id
         JOIN containers c ON c.%I = a.id
         WHERE b IS DISTINCT FROM a',
        TG_ARGV[0]);
    RETURN NULL;
END;
$$;

CREATE TRIGGER servers_listed_on_update AFTER UPDATE ON servers
    REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
    FOR EACH STATEMENT EXECUTE FUNCTION list_changes_of_named_rows('server_id');
CREATE TRIGGER distros_listed_on_update AFTER UPDATE ON distros
    REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
    FOR EACH STATEMENT EXECUTE FUNCTION list_changes_of_named_rows('distro_id');

-- The lists count a container's pending jobs by the job's customer: a job of a container is
-- that container's customer's.
ALTER TABLE jobs ADD CONSTRAINT jobs_container_customer_fkey
    FOREIGN KEY (container_id, customer_id) REFERENCES containers (id, customer_id)
    ON DELETE CASCADE;
ALTER TABLE jobs ADD CONSTRAINT jobs_container_has_customer
    CHECK (container_id IS NULL OR customer_id IS NOT NULL);

-- The top bar and the dashboard count a customer's failed jobs of the last day, and the
-- dashboard lists its containers that fell back and its storage containers: each reads only
-- its few rows, not every failed job nor every container of the customer.
CREATE INDEX jobs_failed_customer_idx ON jobs (customer_id, finished_at) WHERE state = 'failed';
CREATE INDEX containers_fallback_customer_idx ON containers (customer_id)
    WHERE fallback_reason IS NOT NULL;
CREATE INDEX containers_storage_customer_idx ON containers (customer_id)
    WHERE custom_distros_storage;
