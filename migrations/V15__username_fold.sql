-- Usernames are compared by their confusable fold (lower case, then the Unicode UTS #39
-- skeleton: `admin`, `ADMIN`, `аdmin` with a Cyrillic а and `adrnin` share one), so that
-- no account can be made to look like another. The fold needs Unicode's confusables
-- table, which PostgreSQL does not have: the service computes it, for every new account
-- and, at each migration run, for every existing one (docs/auth.md, "Usernames").
-- Until then it is NULL, and NULLs do not collide.
ALTER TABLE users ADD COLUMN username_fold text;
CREATE UNIQUE INDEX users_username_fold ON users (username_fold);
