-- Schema version 7 (issue 14).  Holm's adjustment of the task force's p-values over every
-- comparison of one assessment (each benchmark x baseline, and the pooled 'all' rows).
ALTER TABLE assessment_results ADD COLUMN p_holm DOUBLE;  -- NULL where p_value is, and in older assessments
