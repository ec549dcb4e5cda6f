-- Schema version 8 (issue 29): does what the loop selects hold outside the pool?
-- Held-out instances: per admitted family, a second draw of its own generator on another seed,
-- disjoint from task_instances; answered by every archive member and seed, never selected on.
CREATE TABLE heldout_instances (
    task_id       VARCHAR NOT NULL,
    instance_id   VARCHAR NOT NULL,     -- 'h' + the drawn id
    task          JSON NOT NULL,
    instructions  VARCHAR NOT NULL,
    PRIMARY KEY (task_id, instance_id)
);

-- One row per family drawn, also when the draw gave none (a generator with no other instances).
CREATE TABLE heldout_draws (
    task_id       VARCHAR PRIMARY KEY,
    draw          INTEGER NOT NULL,
    n_instances   INTEGER NOT NULL,
    generation    INTEGER NOT NULL,
    error         VARCHAR               -- why the draw failed in the sandbox, if it did
);

-- Answers to held-out instances: sample 0 greedy (what coverage reads), k > 0 the k-th draw at
-- `temperature` (the resampling baseline); source 'run' (in the loop) or 'fill' (after the run).
CREATE TABLE heldout_answers (
    model_id      VARCHAR NOT NULL,
    task_id       VARCHAR NOT NULL,
    instance_id   VARCHAR NOT NULL,
    sample        INTEGER NOT NULL,
    temperature   DOUBLE NOT NULL,
    score         DOUBLE NOT NULL,
    response      VARCHAR,
    submission    VARCHAR,
    error         VARCHAR,
    tokens        INTEGER,
    generation    INTEGER,
    source        VARCHAR NOT NULL DEFAULT 'run',
    PRIMARY KEY (model_id, task_id, instance_id, sample)
);

-- The noise floor: for each instance a child solved and no parent solved greedily, how many of
-- its parents' samples solved it (0: the find survives resampling).
CREATE TABLE noise_floor (
    generation      INTEGER NOT NULL,
    model_id        VARCHAR NOT NULL,   -- the child
    task_id         VARCHAR NOT NULL,
    instance_id     VARCHAR NOT NULL,
    parent_samples  INTEGER NOT NULL,   -- samples drawn, over all its parents
    parent_solved   INTEGER NOT NULL,   -- of those, how many solved it
    PRIMARY KEY (generation, model_id, task_id, instance_id)
);

-- `acdc transfer`: model sets chosen on the task history (one cross-fitted on held-out halves),
-- with their coverage of the held-out instances and of the history, after `generation`.
CREATE TABLE transfer_results (
    generation        INTEGER NOT NULL,
    set_name          VARCHAR NOT NULL,
    n                 INTEGER NOT NULL,
    members           VARCHAR[] NOT NULL,
    coverage_heldout  DOUBLE NOT NULL,
    coverage_history  DOUBLE,              -- NULL for sampled sets
    n_heldout         INTEGER NOT NULL,
    n_history         INTEGER NOT NULL,
    PRIMARY KEY (generation, set_name)
);
