-- Schema version 2: seed experts fine-tuned by the run (issue 3), registered when built,
-- before generation 0 commits (`acdc seeds build` alone fills this table).
CREATE TABLE seed_experts (
    model_id        VARCHAR PRIMARY KEY,   -- content hash of the merged weights
    name            VARCHAR NOT NULL,
    skill           VARCHAR NOT NULL,      -- 'math' | 'code'
    family          VARCHAR,               -- shipped family, NULL for a user-named base
    base_model_id   VARCHAR NOT NULL,
    uri             VARCHAR NOT NULL,
    recipe          JSON NOT NULL,         -- data generator + seed, training hyper-parameters
    loss_curve      DOUBLE[] NOT NULL,     -- completion-token cross-entropy per step (nats)
    train_seconds   DOUBLE NOT NULL,
    built_at        TIMESTAMP NOT NULL
);
