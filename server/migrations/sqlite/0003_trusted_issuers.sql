-- The issuers this issuer vouches for: what its signed trust list
-- (/.well-known/zp-trust-list.jwt) names. Changed only by admin actions, each with its audit entry.
CREATE TABLE trusted_issuers (
    iss         TEXT PRIMARY KEY,      -- the issuer's base URL, as its tokens carry it
    name        TEXT NOT NULL,
    voivodeship TEXT,
    jwks_uri    TEXT NOT NULL,
    added_at    INTEGER NOT NULL       -- unix seconds
);
