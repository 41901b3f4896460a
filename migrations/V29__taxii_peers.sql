-- TAXII peers pulled (docs/taxii.md, "Peers"): TAXII 2.1 servers the secretariat
-- configures, which a worker polls for one collection each. What a peer sends is imported
-- as the inbox imports a post, into the configured organisation, as its configured
-- service account. The credentials are sealed under the server's seal key (never in
-- clear in the database); the keyset position (`added_after`, `next`) is written in the
-- transaction that imports the page it follows.

CREATE TABLE taxii_peers (
    id                  uuid PRIMARY KEY,
    name                text NOT NULL UNIQUE,
    -- The API root, ending with a slash: https://host/taxii2/api/
    api_root            text NOT NULL,
    collection_id       text NOT NULL,
    organisation_id     uuid NOT NULL REFERENCES organisations (id),
    service_account_id  uuid NOT NULL REFERENCES users (id),
    -- ChaCha20-Poly1305 under the seal key, bound to the peer id: {"username"?, "secret"}.
    sealed_credentials  bytea,
    -- PEM of the CA the peer's certificate must chain to (besides the system roots).
    ca_pem              text,
    poll_interval_secs  integer NOT NULL CHECK (poll_interval_secs BETWEEN 10 AND 86400),
    active              boolean NOT NULL DEFAULT true,
    created_by          uuid NOT NULL REFERENCES users (id),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    -- The position: `added_after` as the peer wrote its X-TAXII-Date-Added-Last, and the
    -- `next` of a walk through pages not yet finished.
    added_after         text,
    next_page           text,
    -- Pages read in the walk under way (a peer whose `next` never ends is stopped).
    walk_pages          integer NOT NULL DEFAULT 0,
    -- When the worker polls next; a worker holds a peer until lease_until, and writes
    -- its pages only while the lease is still its own (lease_token).
    next_poll_at        timestamptz NOT NULL DEFAULT now(),
    lease_until         timestamptz,
    lease_token         uuid,
    -- Health.
    last_poll_at        timestamptz,
    last_success_at     timestamptz,
    last_error          text,
    last_error_at       timestamptz,
    objects_imported    bigint NOT NULL DEFAULT 0,
    objects_refused     bigint NOT NULL DEFAULT 0,
    pages_imported      bigint NOT NULL DEFAULT 0
);
CREATE INDEX taxii_peers_due ON taxii_peers (next_poll_at) WHERE active;

-- A picture made from what a peer sent keeps the peer's markings as floors: no revision
-- may give it a looser TLP than the strictest marking received for it, nor any of its
-- indicators a looser TLP than the one it was imported with.
CREATE TABLE taxii_peer_pictures (
    picture_id        uuid PRIMARY KEY REFERENCES pictures (id),
    peer_id           uuid NOT NULL REFERENCES taxii_peers (id),
    tlp_floor         text CHECK (tlp_floor IN ('CLEAR', 'GREEN', 'AMBER', 'AMBER+STRICT', 'RED')),
    -- [{"type", "value", "tlp"}]
    indicator_floors  jsonb NOT NULL DEFAULT '[]'
);
