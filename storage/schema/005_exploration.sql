-- Schema version 5: does a child differ from its parents (issue 11)?  One row per evaluated
-- child, computed on the instances the child and all its parents answered.
CREATE TABLE child_effects (
    generation    INTEGER NOT NULL,
    model_id      VARCHAR NOT NULL,
    parents       VARCHAR[] NOT NULL,
    operator      VARCHAR NOT NULL,
    n_compared    INTEGER NOT NULL,     -- instances answered by the child and every parent
    differ_share  DOUBLE NOT NULL,      -- share of those where its answer differs from every parent's
    n_new_solved  INTEGER NOT NULL,     -- instances it solves that no parent solves
    n_lost_solved INTEGER NOT NULL,     -- instances a parent solves that it does not
    new_solved    VARCHAR[] NOT NULL,   -- their keys, 'task_id/instance_id'
    PRIMARY KEY (generation, model_id)
);

