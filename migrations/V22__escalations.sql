-- Escalation of overdue acknowledgements (docs/notifications.md): each step once per
-- (picture, organisation, step), recorded when the worker takes it; the mail queue
-- learns two more kinds of message, about a picture rather than an event.

CREATE TABLE escalations (
    id              uuid PRIMARY KEY,
    picture_id      uuid NOT NULL REFERENCES pictures (id),
    organisation_id uuid NOT NULL REFERENCES organisations (id),
    step            text NOT NULL CHECK (step IN ('reminder', 'secretariat')),
    -- The acknowledgement deadline the step was taken against.
    deadline        timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (picture_id, organisation_id, step)
);
CREATE INDEX escalations_newest ON escalations (created_at DESC, id);

ALTER TABLE mail_messages DROP CONSTRAINT mail_messages_kind_check;
ALTER TABLE mail_messages ADD CONSTRAINT mail_messages_kind_check
    CHECK (kind IN ('event', 'confirmation', 'reminder', 'overdue'));
-- The picture a reminder or an overdue report is about (events name theirs).
ALTER TABLE mail_messages ADD COLUMN picture_id uuid REFERENCES pictures (id);
ALTER TABLE mail_messages ADD CONSTRAINT mail_messages_picture_check
    CHECK ((kind IN ('reminder', 'overdue')) = (picture_id IS NOT NULL));
