ALTER TABLE custom_distros DROP CONSTRAINT custom_distros_image_known;
ALTER TABLE custom_distros DROP CONSTRAINT custom_distros_image_state_check;
ALTER TABLE custom_distros ADD CONSTRAINT custom_distros_image_state_check
    CHECK (image_state IN ('none', 'unpacking', 'ready', 'broken'));
ALTER TABLE custom_distros DROP COLUMN previous_sha256, DROP COLUMN previous_bytes;
DROP TABLE image_upload_chunks;
DROP TABLE image_uploads;
