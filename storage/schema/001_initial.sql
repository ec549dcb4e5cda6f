-- Schema version 1: one DuckDB file per run.
CREATE TABLE runs (
    run_id        VARCHAR PRIMARY KEY,
    name          VARCHAR NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    seed          BIGINT NOT NULL,
    config_yaml   VARCHAR NOT NULL
);

-- One row per committed generation (0 = the initial population).
CREATE TABLE generations (
    generation    INTEGER PRIMARY KEY,
    committed_at  TIMESTAMP NOT NULL,
    n_candidates  INTEGER NOT NULL,
    n_gibberish   INTEGER NOT NULL,
    n_admitted    INTEGER NOT NULL,
    seconds       DOUBLE NOT NULL
);

CREATE TABLE models (
    model_id            VARCHAR PRIMARY KEY,   -- content hash of the weights
    uri                 VARCHAR NOT NULL,      -- blob-store URL of the HF folder
    parents             VARCHAR[] NOT NULL,
    operator            VARCHAR NOT NULL,      -- e.g. 'seed', 'mutate:svd', 'linear+mutate:svd'
    recipe              JSON NOT NULL,         -- the ChildRecipe (or seed provenance)
    merge_config_yaml   VARCHAR,               -- the exact mergekit recipe, when merged
    seed                BIGINT,
    created_generation  INTEGER NOT NULL,
    is_gibberish        BOOLEAN NOT NULL,
    gibberish_reason    VARCHAR
);

CREATE TABLE lineage (
    child_id   VARCHAR NOT NULL,
    parent_id  VARCHAR NOT NULL,
    operator   VARCHAR NOT NULL,
    generation INTEGER NOT NULL,
    PRIMARY KEY (child_id, parent_id)
);

CREATE TABLE task_families (
    task_id            VARCHAR PRIMARY KEY,   -- hash of the code
    name               VARCHAR NOT NULL,
    code               VARCHAR NOT NULL,
    description        VARCHAR,
    capability         VARCHAR,
    domain             VARCHAR,
    parent_id          VARCHAR,
    origin             VARCHAR NOT NULL,      -- 'seed' | 'harder' | 'easier' | 'novel'
    created_generation INTEGER NOT NULL,
    active             BOOLEAN NOT NULL
);

CREATE TABLE task_instances (
    task_id       VARCHAR NOT NULL,
    instance_id   VARCHAR NOT NULL,
    task          JSON NOT NULL,
    instructions  VARCHAR NOT NULL,
    PRIMARY KEY (task_id, instance_id)
);

CREATE TABLE evaluations (
    model_id     VARCHAR NOT NULL,
    task_id      VARCHAR NOT NULL,
    instance_id  VARCHAR NOT NULL,
    score        DOUBLE NOT NULL,
    response     VARCHAR NOT NULL,
    submission   VARCHAR NOT NULL,   -- what score() received (extracted answer or response)
    error        VARCHAR,            -- sandbox / score() failure, scored 0
    tokens       INTEGER NOT NULL,   -- generated tokens
    seconds      DOUBLE NOT NULL,    -- generation wall time, batch time shared per prompt
    generation   INTEGER NOT NULL,
    PRIMARY KEY (model_id, task_id, instance_id)
);

-- Archive membership after each generation's update.
CREATE TABLE archive (
    generation         INTEGER NOT NULL,
    model_id           VARCHAR NOT NULL,
    rank               INTEGER NOT NULL,     -- 0 = best competition score
    fitness            DOUBLE NOT NULL,
    competition_score  DOUBLE NOT NULL,      -- +inf for the fittest
    PRIMARY KEY (generation, model_id)
);

CREATE TABLE metrics (
    generation INTEGER NOT NULL,
    name       VARCHAR NOT NULL,
    value      DOUBLE NOT NULL,
    PRIMARY KEY (generation, name)
);

-- Per model and task family: mean score and pass/fail (the skill vector, long form).
CREATE VIEW skill_vectors AS
SELECT model_id, task_id, avg(score) AS score, count(*) AS n_instances
FROM evaluations GROUP BY model_id, task_id;
