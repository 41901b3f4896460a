-- An image is stripped of its metadata before it is stored: the blob holds the stripped
-- file, and the upload keeps the SHA-256 of the file as it was sent, for the analyst's
-- chain of custody. It belongs to the upload, not to the blob: two uploads whose
-- stripped files are the same bytes share one blob, and neither learns the other's
-- original. NULL for a file stored as it came.
ALTER TABLE attachments ADD COLUMN original_sha256 bytea CHECK (length(original_sha256) = 32);

-- An image's thumbnail (a small PNG made at upload from the same decoding) is kept
-- encrypted beside the stored file under the same data key; this is its plaintext size.
-- NULL for a file that has none.
ALTER TABLE attachment_blobs ADD COLUMN thumbnail_size bigint CHECK (thumbnail_size >= 0);
