-- Schema version 6 (issue 13).  Children are made in memory and only those the archive keeps
-- are written to the blob store: any other child's uri is NULL and its recipe remakes it bit for
-- bit.  Each new model records what its generation's archive update did with it.
ALTER TABLE models ALTER COLUMN uri DROP NOT NULL;
ALTER TABLE models ADD COLUMN archive_status VARCHAR;  -- admitted | rejected | gibberish (NULL: the base, older runs)
