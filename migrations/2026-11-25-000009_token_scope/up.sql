-- A read-only token reads but changes nothing. Tokens made before this column stay read-write.
ALTER TABLE api_tokens ADD COLUMN read_only BOOLEAN NOT NULL DEFAULT false;
