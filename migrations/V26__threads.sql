-- Questions on a picture (docs/threads.md): one thread per (picture, asking organisation)
-- between that organisation and the picture's originator, opened by a `need_more_info`
-- acknowledgement or a plain question. Messages are never changed or deleted: they are
-- part of the picture's history. Each person's reading position, for the unread count.

CREATE TABLE threads (
    id              uuid PRIMARY KEY,
    picture_id      uuid NOT NULL REFERENCES pictures (id),
    asking_org_id   uuid NOT NULL REFERENCES organisations (id),
    opened_by       uuid NOT NULL REFERENCES users (id),
    -- How it was opened: a `need_more_info` acknowledgement or a question.
    opened_as       text NOT NULL CHECK (opened_as IN ('need_more_info', 'question')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (picture_id, asking_org_id)
);

CREATE TABLE thread_messages (
    id              uuid PRIMARY KEY,
    thread_id       uuid NOT NULL REFERENCES threads (id),
    -- The picture's revision in force when the message was written.
    revision        integer NOT NULL,
    author_id       uuid NOT NULL REFERENCES users (id),
    organisation_id uuid NOT NULL REFERENCES organisations (id),
    body            text NOT NULL CHECK (length(body) BETWEEN 1 AND 4000),
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX thread_messages_thread ON thread_messages (thread_id, created_at, id);

CREATE FUNCTION threads_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'threads and their messages are never changed or deleted';
END $$;
CREATE TRIGGER threads_immutable BEFORE UPDATE OR DELETE ON threads
    FOR EACH ROW EXECUTE FUNCTION threads_immutable();
CREATE TRIGGER thread_messages_immutable BEFORE UPDATE OR DELETE ON thread_messages
    FOR EACH ROW EXECUTE FUNCTION threads_immutable();

-- Up to which moment a person has read a thread.
CREATE TABLE thread_reads (
    user_id   uuid NOT NULL REFERENCES users (id),
    thread_id uuid NOT NULL REFERENCES threads (id),
    read_at   timestamptz NOT NULL,
    PRIMARY KEY (user_id, thread_id)
);

-- Each new message is mailed to the other party's people in the thread (docs/threads.md):
-- the mail queue learns a fifth kind of message, about a thread message.
ALTER TABLE mail_messages DROP CONSTRAINT mail_messages_kind_check;
ALTER TABLE mail_messages ADD CONSTRAINT mail_messages_kind_check
    CHECK (kind IN ('event', 'confirmation', 'reminder', 'overdue', 'thread'));
ALTER TABLE mail_messages ADD COLUMN thread_message_id uuid REFERENCES thread_messages (id);
ALTER TABLE mail_messages DROP CONSTRAINT mail_messages_picture_check;
ALTER TABLE mail_messages ADD CONSTRAINT mail_messages_picture_check
    CHECK ((kind IN ('reminder', 'overdue', 'thread')) = (picture_id IS NOT NULL));
ALTER TABLE mail_messages ADD CONSTRAINT mail_messages_thread_check
    CHECK ((kind = 'thread') = (thread_message_id IS NOT NULL));
