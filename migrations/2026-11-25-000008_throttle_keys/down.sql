DROP TABLE login_successes;
DROP INDEX login_attempts_username_ip_idx;
