-- Correlation: the indicator values of every revision in the normalised form of their
-- type (sitrep_domain::correlation::normalise, computed by the server: PostgreSQL has no
-- such function), so that the pictures sharing a value are found through an index.
-- Written with the revision and never changed; revisions written before this table are
-- filled in by the server right after migrating.
CREATE TABLE picture_indicator_values (
    picture_id uuid NOT NULL,
    revision   integer NOT NULL,
    type       text NOT NULL,
    value_norm text NOT NULL CHECK (length(value_norm) BETWEEN 1 AND 4096),
    tlp        text NOT NULL,
    FOREIGN KEY (picture_id, revision) REFERENCES picture_revisions (picture_id, revision),
    UNIQUE (picture_id, revision, type, value_norm, tlp)
);
CREATE INDEX picture_indicator_values_value ON picture_indicator_values (type, value_norm);
