-- Digests (docs/notifications.md): a person may ask for one message a day, at a local time
-- of their choosing, listing what they can see and have not read; an election may ask for
-- hourly digests on its election day. Each digest is recorded once per (person, moment),
-- with the window of events it covers, so none is sent twice and none overlaps another.

ALTER TABLE notification_preferences ADD COLUMN digest_at time;
ALTER TABLE notification_preferences ADD COLUMN digest_time_zone text;
ALTER TABLE notification_preferences ADD CONSTRAINT notification_preferences_digest_check
    CHECK ((digest_at IS NULL) = (digest_time_zone IS NULL));

ALTER TABLE elections ADD COLUMN hourly_digest boolean NOT NULL DEFAULT false;

CREATE TABLE digests (
    user_id     uuid NOT NULL REFERENCES users (id),
    -- The moment the digest fell due.
    due_at      timestamptz NOT NULL,
    -- The events it lists were written in (covers_from, covers_to].
    covers_from timestamptz NOT NULL,
    covers_to   timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, due_at)
);

ALTER TABLE mail_messages DROP CONSTRAINT mail_messages_kind_check;
ALTER TABLE mail_messages ADD CONSTRAINT mail_messages_kind_check
    CHECK (kind IN ('event', 'confirmation', 'reminder', 'overdue', 'thread', 'digest'));
ALTER TABLE mail_messages ADD COLUMN digest_due_at timestamptz;
ALTER TABLE mail_messages ADD CONSTRAINT mail_messages_digest_check
    CHECK ((kind = 'digest') = (digest_due_at IS NOT NULL AND user_id IS NOT NULL));
