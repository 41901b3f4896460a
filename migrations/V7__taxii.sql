-- TAXII 2.1: when a picture's current STIX version entered the collections (docs/taxii.md).
-- `stix_added` is the TAXII `date_added` of the newest version of a picture's report: set
-- when the picture is first published, when another revision comes into force, and when
-- it is withdrawn; drafts have none. Collections page by (stix_added, id).

ALTER TABLE pictures ADD COLUMN stix_added timestamptz;

-- Revisions put in force at once (a change that only narrows) did not record when.
UPDATE picture_revisions SET published_at = created_at WHERE state = 'published' AND published_at IS NULL;

UPDATE pictures p SET stix_added = CASE
        WHEN p.status = 'withdrawn' THEN p.updated_at
        ELSE coalesce((SELECT r.published_at FROM picture_revisions r
                       WHERE r.picture_id = p.id AND r.revision = p.revision), p.published_at, p.updated_at)
    END
WHERE p.status NOT IN ('draft', 'in_review');

CREATE FUNCTION pictures_stix_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status NOT IN ('draft', 'in_review') AND (
           OLD.status IN ('draft', 'in_review')
           OR NEW.revision IS DISTINCT FROM OLD.revision
           OR (NEW.status = 'withdrawn' AND OLD.status <> 'withdrawn')) THEN
        NEW.stix_added := now();
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER pictures_stix_added BEFORE UPDATE ON pictures
    FOR EACH ROW EXECUTE FUNCTION pictures_stix_added();

CREATE INDEX pictures_taxii ON pictures (tier, stix_added, id) WHERE stix_added IS NOT NULL;
