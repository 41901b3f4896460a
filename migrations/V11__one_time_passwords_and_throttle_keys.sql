-- A password someone else chose (an account created or reset by an administrator, the
-- first account printed at the first start) is a one-time password: until the person
-- sets their own, every session of theirs may only read who it is, change the password
-- and log out. Setting one's own password clears it; re-hashing at login keeps it.
ALTER TABLE users ADD COLUMN password_change_required boolean NOT NULL DEFAULT false;

-- The login throttle counts failures under keys of three kinds: `account:<name>` (every
-- address; raises the alert, never refuses), `pair:<address> <name>` and
-- `address:<address>` (these two refuse while locked), plus `totp:<user id>` for codes
-- at the self-service endpoints. The counters are safe to lose: the old per-name rows go.
ALTER TABLE login_throttle RENAME COLUMN username TO throttle_key;
DELETE FROM login_throttle;
-- Old windows are purged a few rows at a time as new failures come in.
CREATE INDEX login_throttle_window_start ON login_throttle (window_start);
