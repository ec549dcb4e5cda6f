-- Schema version 4: assessment (issue 5).  `acdc assess` fills these after a run; the global
-- skill vectors (every model ever archived on every task ever admitted) go into `evaluations`
-- itself, so the `skill_vectors` view covers them, marked source = 'assess' (with the
-- generation assessed); rows the run wrote are source = 'run'.
ALTER TABLE evaluations ADD COLUMN source VARCHAR DEFAULT 'run';

-- The benchmark items assessed (a seeded subset of each benchmark's file), so every
-- coverage number can be traced to its items and the text checked against the task pool.
CREATE TABLE benchmark_docs (
    benchmark  VARCHAR NOT NULL,      -- e.g. 'arc_easy', 'gsm8k'
    doc_id     INTEGER NOT NULL,      -- the row's id in the shipped file
    prompt     VARCHAR NOT NULL,      -- question text as the model sees it (zero-shot)
    choices    VARCHAR[],             -- multiple choice only
    target     VARCHAR NOT NULL,      -- gold choice index (as text) or the gold answer
    PRIMARY KEY (benchmark, doc_id)
);

-- One row per model, benchmark item and sample, from lm-eval's logged samples.
CREATE TABLE benchmark_items (
    model_id        VARCHAR NOT NULL,  -- archive model id, or a reference model's content hash
    benchmark       VARCHAR NOT NULL,
    doc_id          INTEGER NOT NULL,
    sample          INTEGER NOT NULL,  -- 0 = greedy / argmax; 1.. = temperature samples
    correct         BOOLEAN NOT NULL,
    answer          VARCHAR NOT NULL,  -- chosen choice index (as text) or the extracted answer
    confidence      DOUBLE,            -- MC: softmax probability of the chosen choice;
                                       -- generative: mean log-prob per generated token
    choice_logliks  DOUBLE[],          -- MC: log-likelihood of every choice
    response        VARCHAR,           -- generative: the whole generated text
    PRIMARY KEY (model_id, benchmark, doc_id, sample)
);

-- Models that are not part of the run but are assessed next to it (a larger model).
CREATE TABLE reference_models (
    model_id   VARCHAR PRIMARY KEY,
    name       VARCHAR NOT NULL,
    path       VARCHAR NOT NULL,
    n_params   BIGINT NOT NULL
);

-- The model sets compared: task forces and baselines, chosen after `generation`.
CREATE TABLE assessment_sets (
    generation          INTEGER NOT NULL,
    set_name            VARCHAR NOT NULL,   -- e.g. 'task_force_greedy_3', 'top_fitness_8'
    kind                VARCHAR NOT NULL,   -- task_force_greedy | task_force_exact | top_fitness
                                            -- | random | seed_experts | best_seed_sampled
                                            -- | single_best | reference
    n                   INTEGER NOT NULL,   -- number of answers per item (models or samples)
    members             VARCHAR[] NOT NULL, -- model ids (a sampled set repeats one id)
    synthetic_coverage  DOUBLE,             -- share of the task history it solves
    PRIMARY KEY (generation, set_name)
);

-- Every number the assessment reports, long form.
CREATE TABLE assessment_results (
    generation  INTEGER NOT NULL,
    set_name    VARCHAR NOT NULL,
    benchmark   VARCHAR NOT NULL,
    metric      VARCHAR NOT NULL,   -- coverage | majority_vote | best_single | bon_<method>
                                    -- | unique:<model_id>
    value       DOUBLE NOT NULL,
    ci_low      DOUBLE,             -- 95% percentile bootstrap over items
    ci_high     DOUBLE,
    p_value     DOUBLE,             -- one-sided paired bootstrap, this set vs the task force
    n_items     INTEGER NOT NULL,
    PRIMARY KEY (generation, set_name, benchmark, metric)
);
