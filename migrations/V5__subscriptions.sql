-- Subscriptions, the webhook host allow-list, and deliveries with their attempt log.

CREATE TABLE webhook_hosts (
    host       text PRIMARY KEY CHECK (host = lower(host) AND length(host) BETWEEN 1 AND 253),
    created_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE subscriptions (
    id              uuid PRIMARY KEY,
    organisation_id uuid NOT NULL REFERENCES organisations (id),
    name            text NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('webhook', 'feed')),
    webhook_url     text,
    -- Current secret first; during rotation the previous one too.
    secrets         text[] NOT NULL DEFAULT '{}',
    domains         text[] NOT NULL DEFAULT '{}',
    min_severity    text,
    election_ids    uuid[] NOT NULL DEFAULT '{}',
    kinds           text[] NOT NULL DEFAULT '{}',
    is_exercise     boolean,
    active          boolean NOT NULL DEFAULT true,
    failing_since   timestamptz,
    -- How far the worker has fanned out the outbox for this subscription: (xid, seq).
    position_xid    xid8 NOT NULL DEFAULT '0',
    position_seq    bigint NOT NULL DEFAULT 0,
    created_by      uuid REFERENCES users (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((channel = 'webhook') = (webhook_url IS NOT NULL))
);
CREATE INDEX subscriptions_organisation ON subscriptions (organisation_id);

CREATE TABLE deliveries (
    id              uuid PRIMARY KEY,
    subscription_id uuid NOT NULL REFERENCES subscriptions (id),
    event_id        uuid NOT NULL REFERENCES events (id),
    state           text NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'dropped')),
    -- All attempts ever (numbers the attempt log); failures since the last success or
    -- replay (position in the retry schedule).
    attempts        integer NOT NULL DEFAULT 0,
    failures        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';

CREATE TABLE delivery_attempts (
    delivery_id uuid NOT NULL REFERENCES deliveries (id),
    attempt     integer NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    http_status smallint,
    outcome     text NOT NULL,
    duration_ms integer NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
