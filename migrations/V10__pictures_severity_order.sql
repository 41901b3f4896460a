-- Triage by severity ("every high and critical picture, newest first") is the filter an
-- analyst uses most during an election. Without this index the list walks
-- pictures_order newest first and checks every picture's severity and visibility, so a
-- page filtered to one severity reads about four times the rows of an unfiltered page
-- (with a domain filter as well, about twelve: p99 41 ms at 1,000,000 pictures,
-- docs/benchmarks.md). With it, the same keyset walk covers only that severity.
CREATE INDEX pictures_severity_order ON pictures (severity, updated_at DESC, id DESC);
