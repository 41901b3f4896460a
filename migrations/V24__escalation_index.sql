-- The escalation worker's look-up of overdue acknowledgements reads only published urgent
-- pictures of the last day or so: a partial index keeps it from walking every picture.
CREATE INDEX pictures_ack_due ON pictures (published_at)
    WHERE status = 'published' AND urgency IN ('immediate', 'priority');
