DROP INDEX api_tokens_user_active_idx;
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_token_hash_shape;
DROP INDEX sessions_created_idx;
ALTER TABLE sessions DROP CONSTRAINT sessions_key_hash_shape;
ALTER TABLE sessions DROP COLUMN public_id;
DROP TABLE login_attempts;
