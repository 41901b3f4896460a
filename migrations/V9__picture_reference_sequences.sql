-- Picture references (VTY-YYYY-NNNN) from one sequence per year instead of one counter
-- row per year. The counter row was locked by every create until it committed, so
-- creates across all organisations ran one at a time; `nextval` is not held until
-- commit. The price: a create that takes a number and then fails (rolled back) leaves a
-- gap in that year's numbers (docs/pictures.md). Numbers stay unique and increasing.

-- The next reference of `year`. The first call of a year creates its sequence, under an
-- advisory lock so that two first calls at once make one sequence (the second waits for
-- the first to commit, then finds it). Owned by the migrating role (SECURITY DEFINER):
-- the service role may not create objects.
CREATE FUNCTION picture_reference(year integer) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    name text := format('public.picture_reference_%s', year);
    seq regclass := to_regclass(name);
    n bigint;
BEGIN
    IF year NOT BETWEEN 1000 AND 9999 THEN
        RAISE EXCEPTION 'picture reference year % out of range', year;
    END IF;
    IF seq IS NULL THEN
        PERFORM pg_advisory_xact_lock(hashtext('picture_reference'), year);
        EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %s AS integer', name);
        seq := name::regclass;
    END IF;
    n := nextval(seq);
    RETURN format('VTY-%s-%s', year, lpad(n::text, greatest(4, length(n::text)), '0'));
END
$$;
REVOKE ALL ON FUNCTION picture_reference(integer) FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'sitrep_app') THEN
        GRANT EXECUTE ON FUNCTION picture_reference(integer) TO sitrep_app;
    END IF;
END
$$;

-- The counters so far become the sequences' starting points.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT year, last FROM picture_references LOOP
        EXECUTE format('CREATE SEQUENCE public.picture_reference_%s AS integer START %s', r.year, r.last + 1);
    END LOOP;
END
$$;
DROP TABLE picture_references;
