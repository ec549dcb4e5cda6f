-- Schema version 9 (issue 31): the generation whose commit took a family out of the active pool,
-- so the history coverage of any generation knows its retired part.  Admitted children answer a
-- bounded sample of the retired instances (evaluation.retired_sample), not all of them.
ALTER TABLE task_families ADD COLUMN retired_generation INTEGER;  -- NULL: active, or retired before version 9
