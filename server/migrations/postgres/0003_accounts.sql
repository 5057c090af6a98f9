-- Named staff accounts of the panel, their passkeys and one-time recovery codes, the enrolment
-- links that let a new account register its first passkey, sessions, and the passkey ceremonies in
-- progress (kept server-side, as WebAuthn requires). Secrets are stored as SHA-256 hashes, hex.
CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    email       TEXT NOT NULL UNIQUE,  -- lowercased
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,         -- viewer, staff or admin
    disabled_at BIGINT,
    created_at  BIGINT NOT NULL
);

CREATE TABLE passkeys (
    id           TEXT PRIMARY KEY,     -- the credential ID, base64url
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    name         TEXT NOT NULL,
    passkey      TEXT NOT NULL,        -- the credential as webauthn-rs serialises it (JSON)
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX passkeys_account ON passkeys (account_id);

CREATE TABLE recovery_codes (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    hash       TEXT NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (account_id, hash)
);

CREATE TABLE enrolments (
    hash       TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

CREATE TABLE sessions (
    hash       TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    seen_at    BIGINT NOT NULL,
    reauth_at  BIGINT NOT NULL,            -- the last passkey check: sign-in or re-authentication
    csrf       TEXT NOT NULL            -- the token every form of this session carries
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE ceremonies (
    hash       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,          -- enrol, login or reauth
    subject    TEXT NOT NULL,          -- the account, or the enrolment link's hash
    state      TEXT NOT NULL,          -- webauthn-rs's ceremony state (JSON)
    expires_at BIGINT NOT NULL
);

-- An admin API key made by a person acts as that person, with that person's role; keys made
-- from the command line have no owner and act as admin.
ALTER TABLE api_keys ADD COLUMN account_id TEXT REFERENCES accounts (id);
