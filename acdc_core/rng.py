"""The run's random streams: one function of (run seed, generation, stream name).

Every random draw of a generation comes from a named stream, so a resumed run redraws exactly
what the interrupted one drew, and adding draws to one stream never shifts another.  The keys
are the ones the run has always used (``[seed, generation]`` for breeding, ``+[1]`` for the
gibberish screen's prompts, ``+[7]`` for task adaptation), so earlier runs resume bit for bit.
"""

from __future__ import annotations

import numpy as np

STREAMS: dict[str, tuple[int, ...]] = {
    "breeding": (),  # parents, merge weights and methods, mutation seeds
    "gibberish": (1,),  # the instructions the gibberish screen samples
    "adaptation": (7,),  # task parents and operations of a task adaptation
    "noise": (11,),  # parents' samples on what their children found (the noise floor)
    "heldout": (13,),  # the resampling baseline's draws on held-out instances
}


def sampling_seed(run_seed: int, generation: int, stream: str, model_id: str) -> int:
    """A decoding seed for ``model_id``'s samples in ``stream`` of ``generation``: one integer
    from the stream, mixed with the model id so that each model draws its own samples."""
    base = int(rng_stream(run_seed, generation, stream).integers(2**31))
    return (base ^ int(model_id.encode().hex()[:15] or "0", 16)) % 2**31


def rng_stream(run_seed: int, generation: int, stream: str) -> np.random.Generator:
    """The generator of ``stream`` in ``generation`` of the run seeded ``run_seed``.

    Raises:
        KeyError: for a stream not in :data:`STREAMS` (the message lists them).
    """
    try:
        key = STREAMS[stream]
    except KeyError:
        raise KeyError(f"unknown random stream {stream!r}; known: {sorted(STREAMS)}") from None
    return np.random.default_rng([run_seed, generation, *key])
