-- Upload chunk rows of up to 16 MiB: fewer rows, transactions and round trips per upload.
ALTER TABLE image_upload_chunks DROP CONSTRAINT image_upload_chunks_data_check;
ALTER TABLE image_upload_chunks ADD CONSTRAINT image_upload_chunks_data_check
    CHECK (octet_length(data) BETWEEN 1 AND 16777216);
