-- Issuer settings fixed at first start (the issuer URL tokens carry as `iss`).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE entities (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    legal_form  TEXT NOT NULL,
    nip         TEXT,
    regon       TEXT,
    krs         TEXT,
    city        TEXT,
    voivodeship TEXT,
    domains     TEXT NOT NULL,          -- JSON array of normalised hosts
    contact     TEXT,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX entities_nip ON entities (nip) WHERE nip IS NOT NULL;

CREATE TABLE certificates (
    id            TEXT PRIMARY KEY,     -- Crockford base32, 8 characters
    number        TEXT NOT NULL UNIQUE, -- ZP/LU/2026/0007
    entity_id     TEXT NOT NULL REFERENCES entities (id),
    status_idx    INTEGER NOT NULL UNIQUE,
    state         TEXT NOT NULL CHECK (state IN ('active', 'suspended', 'revoked')),
    valid_from    INTEGER NOT NULL,     -- unix seconds, start of the validity year
    valid_until   INTEGER NOT NULL,     -- unix seconds, end of it (exclusive)
    reason        TEXT,                 -- revocation or suspension reason code
    public_note   TEXT,
    search_text   TEXT NOT NULL,        -- folded entity, number and product text for search
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX certificates_entity ON certificates (entity_id);
CREATE INDEX certificates_until ON certificates (valid_until);

CREATE TABLE products (
    certificate_id TEXT NOT NULL REFERENCES certificates (id),
    position       INTEGER NOT NULL,
    name           TEXT NOT NULL,
    gtin           TEXT,
    added_at       INTEGER NOT NULL,
    PRIMARY KEY (certificate_id, position)
) STRICT;
CREATE INDEX products_gtin ON products (gtin) WHERE gtin IS NOT NULL;

CREATE TABLE tokens (
    jti            TEXT PRIMARY KEY,
    certificate_id TEXT NOT NULL REFERENCES certificates (id),
    kid            TEXT NOT NULL,
    token          TEXT NOT NULL,
    iat            INTEGER NOT NULL,
    exp            INTEGER NOT NULL
) STRICT;
CREATE INDEX tokens_certificate ON tokens (certificate_id, iat);
CREATE INDEX tokens_kid ON tokens (kid, exp);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,    -- SHA-256 of the key, hex
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;

-- Append-only: each row's hash covers its content and the previous row's hash.
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    details   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
) STRICT;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
