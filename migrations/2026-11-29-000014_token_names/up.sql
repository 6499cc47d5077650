-- A user's live tokens have distinct names, so that a list of them (and a revocation by name)
-- is never ambiguous. Live duplicates made before this rule keep working under a name that
-- says which one they are.
UPDATE api_tokens AS t
   SET name = left(t.name, 80) || ' (' || t.id || ')'
 WHERE t.revoked_at IS NULL
   AND EXISTS (SELECT 1 FROM api_tokens AS o
                WHERE o.user_id = t.user_id AND o.name = t.name
                  AND o.revoked_at IS NULL AND o.id < t.id);
CREATE UNIQUE INDEX api_tokens_user_live_name ON api_tokens (user_id, name) WHERE revoked_at IS NULL;
