-- Applications for the mark (a new mark, a renewal, another branch), the case's thread of
-- questions and answers, its attachments (kept in the database, beside the case, never in a
-- directory a web server could serve), and the applicants' single-use sign-in links and
-- sessions. Secrets are stored as SHA-256 hashes, hex.
CREATE TABLE applications (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,        -- new, renewal or branch
    status         TEXT NOT NULL,        -- submitted, returned, answered, prepared, approved, refused
    lang           TEXT NOT NULL,        -- pl or en: the applicant's letters
    email          TEXT NOT NULL,        -- the contact person's, lowercased
    certificate_id TEXT,                 -- the certificate renewed or extended, or issued
    entity_id      TEXT,                 -- the entity, once known
    form           TEXT NOT NULL,        -- what was applied for, as JSON
    checklist      TEXT NOT NULL,        -- the criteria the staff ticked, as a JSON list
    submitted_by   TEXT NOT NULL,        -- "form", or "api"
    submission     TEXT UNIQUE,          -- the form's one-time key: a second submission is the first
    prepared_by    TEXT,                 -- who prepared an approval another person must confirm
    prepared       TEXT,                 -- that approval's resolution, as JSON
    decision       TEXT,                 -- the outcome, resolution and reasons, as JSON
    decided_by     TEXT,
    decided_at     INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX applications_status ON applications (status, updated_at);
CREATE INDEX applications_email ON applications (email);

CREATE TABLE application_events (
    application_id TEXT NOT NULL REFERENCES applications (id),
    seq            INTEGER NOT NULL,
    at             INTEGER NOT NULL,
    author         TEXT NOT NULL,        -- applicant, or the staff member's actor name
    kind           TEXT NOT NULL,        -- submitted, question, answer, approved, refused, prepared
    body           TEXT NOT NULL,
    PRIMARY KEY (application_id, seq)
) STRICT;

CREATE TABLE application_files (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (id),
    name           TEXT NOT NULL,
    media_type     TEXT NOT NULL,        -- from the content: application/pdf, image/jpeg, image/png
    size           INTEGER NOT NULL,
    sha256         TEXT NOT NULL,
    content        BLOB NOT NULL,
    added_at       INTEGER NOT NULL,
    added_by       TEXT NOT NULL
) STRICT;
CREATE INDEX application_files_application ON application_files (application_id);

CREATE TABLE applicant_links (
    hash       TEXT PRIMARY KEY,
    email      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;

CREATE TABLE applicant_sessions (
    hash       TEXT PRIMARY KEY,
    email      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    seen_at    INTEGER NOT NULL,
    csrf       TEXT NOT NULL
) STRICT;
