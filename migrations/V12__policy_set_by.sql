-- Who switched an organisation's review and TOTP policies on: the secretariat, or the
-- organisation's own org_admin. An org_admin may tighten a policy but never switch off
-- what the secretariat switched on, so the owner of each switch is kept beside it.
ALTER TABLE organisations
    ADD COLUMN require_review_set_by text CHECK (require_review_set_by IN ('secretariat', 'organisation')),
    ADD COLUMN require_totp_set_by text CHECK (require_totp_set_by IN ('secretariat', 'organisation'));

-- Nobody recorded who set what is on today: treat it as the secretariat's, so that an
-- org_admin cannot switch it off; the secretariat can hand it back by switching it off.
UPDATE organisations SET require_review_set_by = 'secretariat' WHERE require_review;
UPDATE organisations SET require_totp_set_by = 'secretariat' WHERE require_totp;

ALTER TABLE organisations
    ADD CONSTRAINT organisations_review_owner CHECK (require_review = (require_review_set_by IS NOT NULL)),
    ADD CONSTRAINT organisations_totp_owner CHECK (require_totp = (require_totp_set_by IS NOT NULL));
