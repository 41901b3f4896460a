-- Accounts hardening: service accounts and their API keys, TOTP second factor with
-- recovery codes, and organisation policies.

-- A service account is a row of `users` of kind `service`: it holds memberships (its
-- roles, in its one organisation) and is the actor of what it does, so every foreign key
-- to users works for it. It has no password and cannot log in; it authenticates with
-- API keys only.
ALTER TABLE users ADD COLUMN kind text NOT NULL DEFAULT 'person' CHECK (kind IN ('person', 'service'));
ALTER TABLE users ADD COLUMN owner_organisation_id uuid REFERENCES organisations (id);
ALTER TABLE users ADD COLUMN description text CHECK (length(description) <= 500);
ALTER TABLE users ALTER COLUMN password_hash DROP NOT NULL;
ALTER TABLE users ADD CONSTRAINT users_kind_shape CHECK (
    (kind = 'person' AND password_hash IS NOT NULL AND owner_organisation_id IS NULL)
    OR (kind = 'service' AND password_hash IS NULL AND owner_organisation_id IS NOT NULL)
);
CREATE INDEX users_service_accounts ON users (owner_organisation_id, username) WHERE kind = 'service';

-- API keys: `sitrep_live_<prefix>_<secret>`. The prefix (50 random bits) finds the row;
-- only SHA-256 of the whole key is stored (256 bits of secret make a fast hash enough).
CREATE TABLE api_keys (
    id                 uuid PRIMARY KEY,
    service_account_id uuid NOT NULL REFERENCES users (id),
    prefix             text NOT NULL UNIQUE CHECK (prefix ~ '^[a-z2-7]{10}$'),
    secret_hash        bytea NOT NULL CHECK (length(secret_hash) = 32),
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    allowed_ranges     cidr[] NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL DEFAULT now(),
    created_by         uuid NOT NULL REFERENCES users (id),
    expires_at         timestamptz NOT NULL,
    revoked_at         timestamptz,
    revoked_by         uuid REFERENCES users (id),
    last_used_at       timestamptz,
    last_used_addr     inet,
    CHECK (expires_at > created_at)
);
CREATE INDEX api_keys_account ON api_keys (service_account_id, created_at);

-- Organisation policies.
ALTER TABLE organisations ADD COLUMN require_totp boolean NOT NULL DEFAULT false;
-- Client address ranges every API key of the organisation's service accounts must come
-- from (empty: any); a key's own ranges narrow this further.
ALTER TABLE organisations ADD COLUMN service_account_ranges cidr[] NOT NULL DEFAULT '{}';

-- TOTP (RFC 6238). The secret is sealed (ChaCha20-Poly1305, key outside the database,
-- the user id as associated data). `last_step` refuses the replay of a used code.
CREATE TABLE totp_credentials (
    user_id        uuid PRIMARY KEY REFERENCES users (id),
    sealed_secret  bytea NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    confirmed_at   timestamptz,
    last_step      bigint NOT NULL DEFAULT 0
);

-- Recovery codes: single use, SHA-256 of a 120-bit random code.
CREATE TABLE recovery_codes (
    code_hash  bytea PRIMARY KEY CHECK (length(code_hash) = 32),
    user_id    uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    used_at    timestamptz
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

-- How a session's login was proven beyond the password: NULL (password only), `totp`,
-- or `recovery_code`. An organisation that requires TOTP lets a password-only session
-- do nothing but enrol.
ALTER TABLE auth_sessions ADD COLUMN second_factor text CHECK (second_factor IN ('totp', 'recovery_code'));
