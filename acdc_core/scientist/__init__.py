"""The scientist: writes and rewrites task families (ALGORITHM.md "Task adaptation").

Backends behind one interface (:class:`acdc_core.scientist.base.Scientist`): an LLM reached
through a chat client (:mod:`acdc_core.adapters.chat`: an OpenAI-compatible server, or a local
transformers chat model) and the offline template scientist.
:func:`acdc_core.adapters.chat.make_scientist` builds the configured one.
"""

from __future__ import annotations

from acdc_core.scientist.base import OPERATIONS, Scientist, TaskRequest

__all__ = ["OPERATIONS", "Scientist", "TaskRequest"]
