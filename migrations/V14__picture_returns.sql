-- Returning a revision in review to its author writes no revision: it sets the revision
-- back to draft and keeps who returned it, when, and why here.
CREATE TABLE picture_returns (
    picture_id  uuid NOT NULL REFERENCES pictures (id),
    revision    integer NOT NULL,
    returned_by uuid NOT NULL REFERENCES users (id),
    returned_at timestamptz NOT NULL DEFAULT now(),
    note        text CHECK (length(note) <= 2000),
    FOREIGN KEY (picture_id, revision) REFERENCES picture_revisions (picture_id, revision)
);
CREATE INDEX picture_returns_picture ON picture_returns (picture_id, revision, returned_at);
