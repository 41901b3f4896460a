-- Evidence attachments. A file's bytes are stored once (`attachment_blobs`, keyed by the
-- SHA-256 of the plaintext), encrypted under a data key of their own that is kept here
-- only wrapped by the key-encryption key outside the database. An upload is an
-- `attachments` row: the file as one picture received it. Which revisions carry it, with
-- what TLP and description, is in each revision's content; nothing here is ever changed
-- or deleted.
CREATE TABLE attachment_blobs (
    id          uuid PRIMARY KEY,
    sha256      bytea NOT NULL UNIQUE CHECK (length(sha256) = 32),
    size        bigint NOT NULL CHECK (size >= 0),
    -- The media type the content was recognised as.
    sniffed     text NOT NULL,
    -- The data key, sealed under the key-encryption key with the blob id as associated data.
    wrapped_key bytea NOT NULL,
    -- Where the ciphertext lives (`local` or `s3`).
    store       text NOT NULL CHECK (store IN ('local', 's3')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE attachments (
    id          uuid PRIMARY KEY,
    picture_id  uuid NOT NULL REFERENCES pictures (id),
    blob_id     uuid NOT NULL REFERENCES attachment_blobs (id),
    file_name   text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 255),
    media_type  text NOT NULL,
    created_by  uuid NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attachments_picture ON attachments (picture_id);

CREATE FUNCTION attachments_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'attachments are never changed or deleted';
END $$;
CREATE TRIGGER attachments_immutable BEFORE UPDATE OR DELETE ON attachments
    FOR EACH ROW EXECUTE FUNCTION attachments_immutable();
CREATE TRIGGER attachment_blobs_immutable BEFORE UPDATE OR DELETE ON attachment_blobs
    FOR EACH ROW EXECUTE FUNCTION attachments_immutable();

-- An upload retried with its Idempotency-Key answers with the attachment it created.
ALTER TABLE idempotency_keys ADD COLUMN attachment_id uuid;
