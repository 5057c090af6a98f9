-- The mail outbox: every letter is written here in the transaction of the change that causes it,
-- and a worker sends it after the commit. A letter is `pending` until the SMTP server accepts it
-- (`sent`) or it is given up (`failed`); `lease_until` is the claim of the worker sending it, so
-- that no two workers (replicas) send the same letter. The Message-ID is fixed here, so a resend
-- after a crash carries the same one.
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,            -- what it is about: reminder.30, digest, …
    to_addr      TEXT NOT NULL,
    to_name      TEXT,
    subject      TEXT NOT NULL,
    paragraphs   TEXT NOT NULL,            -- JSON array of plain-text paragraphs
    link_label   TEXT,
    link_url     TEXT,
    private_link INTEGER NOT NULL,         -- 1: the link is a secret the panel does not show
    lang         TEXT NOT NULL DEFAULT 'pl', -- the letter's language: pl, or en for an English reader
    message_id   TEXT NOT NULL UNIQUE,     -- with its angle brackets
    state        TEXT NOT NULL,            -- pending, sent or failed
    attempts     INTEGER NOT NULL,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    due_at       INTEGER NOT NULL,         -- the next attempt, not before
    lease_until  INTEGER,                  -- claimed by a worker until then
    sent_at      INTEGER,
    resent_from  INTEGER REFERENCES outbox (id)
) STRICT;
CREATE INDEX outbox_due ON outbox (state, due_at);
CREATE INDEX outbox_created ON outbox (created_at);

-- The expiry reminders given: one per certificate, validity period and threshold (days before
-- `valid_until`: 60, 30, 7, 0). `outbox_id` is NULL for a threshold passed over because the
-- certificate was first seen after it.
CREATE TABLE reminders (
    certificate_id TEXT NOT NULL REFERENCES certificates (id),
    valid_until    INTEGER NOT NULL,
    threshold      INTEGER NOT NULL,
    outbox_id      INTEGER REFERENCES outbox (id),
    at             INTEGER NOT NULL,
    PRIMARY KEY (certificate_id, valid_until, threshold)
) STRICT;
