-- Schema version 6: children are made in memory and only those the archive keeps are written to
-- the blob store (issue 13); any other child's uri is NULL and its recipe remakes it bit for bit.
ALTER TABLE models ALTER COLUMN uri DROP NOT NULL;
