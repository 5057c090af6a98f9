-- A trigram full-text index over certificates.search_text, so that registry search finds rare
-- words without reading every certificate. It holds no copy of the text (external content) and is
-- kept in step by triggers, inside the same transaction as the write that changes the text.
CREATE VIRTUAL TABLE certificates_search USING fts5 (
    search_text,
    content = 'certificates',
    content_rowid = 'rowid',
    tokenize = 'trigram'
);

INSERT INTO certificates_search (certificates_search) VALUES ('rebuild');

CREATE TRIGGER certificates_search_insert AFTER INSERT ON certificates BEGIN
    INSERT INTO certificates_search (rowid, search_text) VALUES (new.rowid, new.search_text);
END;

CREATE TRIGGER certificates_search_delete AFTER DELETE ON certificates BEGIN
    INSERT INTO certificates_search (certificates_search, rowid, search_text)
    VALUES ('delete', old.rowid, old.search_text);
END;

CREATE TRIGGER certificates_search_update AFTER UPDATE OF search_text ON certificates BEGIN
    INSERT INTO certificates_search (certificates_search, rowid, search_text)
    VALUES ('delete', old.rowid, old.search_text);
    INSERT INTO certificates_search (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
