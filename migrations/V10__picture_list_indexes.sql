-- Ordered indexes for the picture list's filters. The list walks pictures newest change
-- first and stops at a page; with only pictures_order, a filter whose matches are rare
-- among the newest pictures (urgency=immediate, status=in_review, or severity=high after
-- a burst of other pictures) made the walk pass over every non-matching picture (at
-- 1,000,000 pictures: 25 ms past 40,000 newer drafts, or a full scan of 800 ms for a
-- value with no match; docs/benchmarks.md). With an index per filter that starts with
-- the filter's column and then follows the list's order, the walk visits only matching
-- rows. They pay off only when the planner prices random reads as on SSD storage, which
-- the server sets on its sessions (database.random_page_cost, docs/deploy.md).
CREATE INDEX pictures_severity_order ON pictures (severity, updated_at DESC, id DESC);
CREATE INDEX pictures_urgency_order ON pictures (urgency, updated_at DESC, id DESC);
CREATE INDEX pictures_status_order ON pictures (status, updated_at DESC, id DESC);
CREATE INDEX pictures_kind_order ON pictures (kind, updated_at DESC, id DESC);
CREATE INDEX pictures_tier_order ON pictures (tier, updated_at DESC, id DESC);
CREATE INDEX pictures_tlp_order ON pictures (tlp, updated_at DESC, id DESC);
CREATE INDEX pictures_election_order ON pictures (election_id, updated_at DESC, id DESC)
    WHERE election_id IS NOT NULL;
CREATE INDEX pictures_exercise_order ON pictures (updated_at DESC, id DESC) WHERE is_exercise;

-- A picture names one or more domains (an array): one partial index per domain, whose
-- predicate is the list's filter `$domain = ANY (domains)` with the value in place.
CREATE INDEX pictures_domain_information_influence_order ON pictures (updated_at DESC, id DESC)
    WHERE 'information_influence' = ANY (domains);
CREATE INDEX pictures_domain_hybrid_order ON pictures (updated_at DESC, id DESC) WHERE 'hybrid' = ANY (domains);
CREATE INDEX pictures_domain_cyber_order ON pictures (updated_at DESC, id DESC) WHERE 'cyber' = ANY (domains);

-- Domain and severity together, the triage view ("cyber, high"): with one index for each,
-- a burst of newer pictures that match one filter and not the other is walked past.
CREATE INDEX pictures_domain_information_influence_severity_order ON pictures (severity, updated_at DESC, id DESC)
    WHERE 'information_influence' = ANY (domains);
CREATE INDEX pictures_domain_hybrid_severity_order ON pictures (severity, updated_at DESC, id DESC)
    WHERE 'hybrid' = ANY (domains);
CREATE INDEX pictures_domain_cyber_severity_order ON pictures (severity, updated_at DESC, id DESC)
    WHERE 'cyber' = ANY (domains);
