-- E-mail notifications (docs/notifications.md): each person's preferences and address,
-- organisations' duty addresses, single-use confirmation tokens, and the mail queue the
-- notification worker fills from the outbox and drains through the SMTP relay.

CREATE TABLE notification_preferences (
    user_id            uuid PRIMARY KEY REFERENCES users (id),
    email              text CHECK (length(email) BETWEEN 3 AND 254),
    -- Set by the confirmation of exactly this address; a new address clears it.
    email_confirmed_at timestamptz,
    urgencies          text[] NOT NULL DEFAULT '{immediate}'
                       CHECK (urgencies <@ ARRAY['routine', 'priority', 'immediate']),
    domains            text[] NOT NULL DEFAULT '{}'
                       CHECK (domains <@ ARRAY['information_influence', 'hybrid', 'cyber']),
    election_ids       uuid[] NOT NULL DEFAULT '{}',
    quiet_start        time,
    quiet_end          time,
    time_zone          text,
    language           text NOT NULL DEFAULT 'fi' CHECK (language IN ('fi', 'sv', 'en')),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((quiet_start IS NULL) = (quiet_end IS NULL) AND (quiet_start IS NULL) = (time_zone IS NULL)),
    CHECK (email_confirmed_at IS NULL OR email IS NOT NULL)
);

-- Where `immediate` publications (and later overdue reminders) for an organisation go,
-- whether or not any person opted in. Removed addresses are kept (the mail log names
-- them) with `removed_at`.
CREATE TABLE duty_addresses (
    id              uuid PRIMARY KEY,
    organisation_id uuid NOT NULL REFERENCES organisations (id),
    email           text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    language        text NOT NULL CHECK (language IN ('fi', 'sv', 'en')),
    confirmed_at    timestamptz,
    created_by      uuid REFERENCES users (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    removed_at      timestamptz
);
CREATE UNIQUE INDEX duty_addresses_current ON duty_addresses (organisation_id, lower(email)) WHERE removed_at IS NULL;

-- Confirmation tokens: only SHA-256 of the token is stored; each works once, before it
-- expires, and only for the address it was sent to.
CREATE TABLE email_confirmations (
    token_hash      bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id         uuid REFERENCES users (id),
    duty_address_id uuid REFERENCES duty_addresses (id),
    email           text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz,
    CHECK ((user_id IS NULL) <> (duty_address_id IS NULL))
);
CREATE INDEX email_confirmations_user ON email_confirmations (user_id) WHERE used_at IS NULL;
CREATE INDEX email_confirmations_duty ON email_confirmations (duty_address_id) WHERE used_at IS NULL;

-- How far the notification worker has read the outbox, in its commit-safe order (one row).
CREATE TABLE mail_position (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    position_xid xid8 NOT NULL,
    position_seq bigint NOT NULL
);
INSERT INTO mail_position (position_xid, position_seq)
SELECT coalesce(max(xid), '0'::xid8), coalesce(max(seq) FILTER (WHERE xid = (SELECT max(xid) FROM events)), 0)
FROM events;

-- One message to one recipient. `message_id` is derived from (event, recipient), so a
-- message sent again after a lost answer carries the same Message-ID and receivers
-- (and the unique index) see one message.
CREATE TABLE mail_messages (
    id              uuid PRIMARY KEY,
    message_id      text NOT NULL UNIQUE,
    kind            text NOT NULL CHECK (kind IN ('event', 'confirmation')),
    event_id        uuid REFERENCES events (id),
    user_id         uuid REFERENCES users (id),
    duty_address_id uuid REFERENCES duty_addresses (id),
    organisation_id uuid REFERENCES organisations (id),
    -- The address when queued (the worker re-reads the current one before sending).
    address         text NOT NULL,
    -- A confirmation's token, until the message is sent; never for an event.
    token           text,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed', 'suppressed')),
    attempts        integer NOT NULL DEFAULT 0,
    failures        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz,
    last_outcome    text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    CHECK ((kind = 'event') = (event_id IS NOT NULL)),
    CHECK ((user_id IS NULL) <> (duty_address_id IS NULL)),
    CHECK (token IS NULL OR kind = 'confirmation')
);
CREATE INDEX mail_messages_due ON mail_messages (next_attempt_at) WHERE state = 'pending';
CREATE INDEX mail_messages_state ON mail_messages (state, created_at DESC);

-- The console's notification list: which events a person has marked read.
CREATE TABLE notification_reads (
    user_id  uuid NOT NULL REFERENCES users (id),
    event_id uuid NOT NULL REFERENCES events (id),
    read_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, event_id)
);
