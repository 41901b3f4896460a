-- The language a person chose for the console (and for picture texts shown to them):
-- fi, sv or en; NULL until they choose one.
ALTER TABLE users ADD COLUMN language text CHECK (language IN ('fi', 'sv', 'en'));
