-- The SQLite schema (migrations/sqlite/0001_init.sql) in PostgreSQL's types: times are unix
-- seconds in BIGINT, texts are TEXT, JSON stays TEXT so that hashed audit details keep their bytes.

-- Issuer settings fixed at first start (the issuer URL tokens carry as `iss`).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

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
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX entities_nip ON entities (nip) WHERE nip IS NOT NULL;

CREATE TABLE certificates (
    id            TEXT PRIMARY KEY,     -- Crockford base32, 8 characters
    number        TEXT NOT NULL UNIQUE, -- ZP/LU/2026/0007
    entity_id     TEXT NOT NULL REFERENCES entities (id),
    status_idx    BIGINT NOT NULL UNIQUE,
    state         TEXT NOT NULL CHECK (state IN ('active', 'suspended', 'revoked')),
    valid_from    BIGINT NOT NULL,      -- unix seconds, start of the validity year
    valid_until   BIGINT NOT NULL,      -- unix seconds, end of it (exclusive)
    reason        TEXT,                 -- revocation or suspension reason code
    public_note   TEXT,
    search_text   TEXT NOT NULL,        -- folded entity, number and product text for search
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX certificates_entity ON certificates (entity_id);
CREATE INDEX certificates_until ON certificates (valid_until);

CREATE TABLE products (
    certificate_id TEXT NOT NULL REFERENCES certificates (id),
    position       BIGINT NOT NULL,
    name           TEXT NOT NULL,
    gtin           TEXT,
    added_at       BIGINT NOT NULL,
    PRIMARY KEY (certificate_id, position)
);
CREATE INDEX products_gtin ON products (gtin) WHERE gtin IS NOT NULL;

CREATE TABLE tokens (
    jti            TEXT PRIMARY KEY,
    certificate_id TEXT NOT NULL REFERENCES certificates (id),
    kid            TEXT NOT NULL,
    token          TEXT NOT NULL,
    iat            BIGINT NOT NULL,
    exp            BIGINT NOT NULL,
    -- Insertion order, SQLite's rowid: the newest of two tokens signed in the same second.
    seq            BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX tokens_certificate ON tokens (certificate_id, iat);
CREATE INDEX tokens_kid ON tokens (kid, exp);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,    -- SHA-256 of the key, hex
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- Append-only: each row's hash covers its content and the previous row's hash. Writers hold
-- the store's write lock, so `seq` and `prev_hash` come from the committed head.
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    details   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
