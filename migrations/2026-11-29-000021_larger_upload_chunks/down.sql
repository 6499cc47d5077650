DELETE FROM image_uploads WHERE id IN
    (SELECT upload_id FROM image_upload_chunks WHERE octet_length(data) > 4194304);
ALTER TABLE image_upload_chunks DROP CONSTRAINT image_upload_chunks_data_check;
ALTER TABLE image_upload_chunks ADD CONSTRAINT image_upload_chunks_data_check
    CHECK (octet_length(data) BETWEEN 1 AND 4194304);
