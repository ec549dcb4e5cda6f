-- Schema version 3: task coevolution (issue 4).  Lineage of every task is in task_families
-- (parent_id, origin = seed | harder | easier | novel_related | novel_new, created_generation);
-- these tables add the embeddings, every proposal the scientist made, what happened to tasks
-- later, and the task archive's clusters per generation.
CREATE TABLE task_embeddings (
    task_id            VARCHAR PRIMARY KEY,
    embedder           VARCHAR NOT NULL,
    text               VARCHAR NOT NULL,     -- what was embedded (name, description, examples)
    embedding          FLOAT[] NOT NULL,     -- unit length
    created_generation INTEGER NOT NULL
);

-- One row per scientist attempt: round 0 is the first reply, rounds 1.. are self-reflections.
CREATE TABLE task_proposals (
    generation      INTEGER NOT NULL,
    request_id      VARCHAR NOT NULL,
    round           INTEGER NOT NULL,
    operation       VARCHAR NOT NULL,     -- harder | easier | novel_related | novel_new
    parent_id       VARCHAR NOT NULL,
    task_id         VARCHAR,              -- hash of the code, NULL when no code could be read
    name            VARCHAR,
    status          VARCHAR NOT NULL,     -- admitted | invalid | not_novel | not_interesting | impossible
    reason          VARCHAR,              -- the error shown to the scientist, or why rejected
    max_similarity  DOUBLE,               -- cosine similarity to the nearest known task (novel ops)
    nearest_ids     VARCHAR[],
    reply           VARCHAR NOT NULL,     -- the scientist's whole reply
    PRIMARY KEY (generation, request_id, round)
);

-- What happened to a task after admission: dropped_unsolved, replaced (a harder/easier child
-- took its place), pruned (pool cap, oldest first).
CREATE TABLE task_events (
    generation INTEGER NOT NULL,
    task_id    VARCHAR NOT NULL,
    event      VARCHAR NOT NULL,
    detail     VARCHAR,
    PRIMARY KEY (generation, task_id, event)
);

-- HDBSCAN cluster of every task of the history after each generation (-1 = noise).
CREATE TABLE task_clusters (
    generation INTEGER NOT NULL,
    task_id    VARCHAR NOT NULL,
    cluster    INTEGER NOT NULL,
    PRIMARY KEY (generation, task_id)
);
