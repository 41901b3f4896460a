-- The transactional outbox: events written in the transaction of the change they report.
-- Readers page by (xid, seq) and only read events of transactions older than every
-- transaction still running (pg_snapshot_xmin), so an event that commits late can never
-- fall behind a cursor: nothing is skipped, across restarts and server processes.

CREATE TABLE events (
    seq         bigserial NOT NULL,
    xid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    id          uuid PRIMARY KEY,
    type        text NOT NULL CHECK (type IN ('picture.published', 'picture.revised', 'picture.withdrawn',
                                               'picture.recalled', 'picture.acknowledged')),
    picture_id  uuid NOT NULL REFERENCES pictures (id),
    revision    integer NOT NULL,
    tier        text NOT NULL,
    tlp         text NOT NULL,
    -- When set, only these organisations receive the event (a recall goes to those that
    -- lost sight; an acknowledgement to the originator). Otherwise the picture's audience
    -- at the moment of delivery does.
    recipients  uuid[],
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX events_order ON events (xid, seq);
CREATE INDEX events_picture ON events (picture_id);
