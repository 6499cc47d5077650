-- Image archives customers upload through the API, kept until a worker on the storage
-- container's host has unpacked them. PostgreSQL is the one store every web node and every
-- agent reaches, so an upload taken by any web node can be unpacked by the agent of its host.
CREATE TABLE image_uploads (
    id                BIGSERIAL PRIMARY KEY,
    -- transient bytes, not something a user saved: they go with their distro
    custom_distro_id  INTEGER NOT NULL REFERENCES custom_distros (id) ON DELETE CASCADE,
    -- receiving: chunks still arriving (a request in flight, or one that died); complete: the
    -- whole archive is here and its digest known
    state             TEXT NOT NULL DEFAULT 'receiving' CHECK (state IN ('receiving', 'complete')),
    bytes             BIGINT NOT NULL DEFAULT 0 CHECK (bytes >= 0),
    sha256            TEXT CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT image_uploads_complete_has_digest CHECK (state = 'receiving' OR sha256 IS NOT NULL)
);
CREATE INDEX image_uploads_distro_idx ON image_uploads (custom_distro_id);
CREATE INDEX image_uploads_created_idx ON image_uploads (created_at);

CREATE TABLE image_upload_chunks (
    upload_id  BIGINT NOT NULL REFERENCES image_uploads (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL CHECK (seq >= 0),
    data       BYTEA NOT NULL CHECK (octet_length(data) BETWEEN 1 AND 4194304),
    PRIMARY KEY (upload_id, seq)
);
-- chunks are written once and read once, sequentially: no point compressing archives again
ALTER TABLE image_upload_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

-- The image an install replaced, kept on the host for a rollback: what it was.
ALTER TABLE custom_distros
    ADD COLUMN previous_bytes BIGINT CHECK (previous_bytes >= 0),
    ADD COLUMN previous_sha256 TEXT CHECK (previous_sha256 ~ '^[0-9a-f]{64}$');

-- An install under way is read from the job queue, never stored: a failed or cancelled job
-- cannot leave a distro stuck as "unpacking".
ALTER TABLE custom_distros DROP CONSTRAINT custom_distros_image_state_check;
ALTER TABLE custom_distros ADD CONSTRAINT custom_distros_image_state_check
    CHECK (image_state IN ('none', 'ready', 'broken'));
-- a known image has its size and digest; none has neither
ALTER TABLE custom_distros ADD CONSTRAINT custom_distros_image_known
    CHECK ((image_bytes IS NULL) = (image_sha256 IS NULL)
           AND (previous_bytes IS NULL) = (previous_sha256 IS NULL));
