"""The scientist: writes and rewrites task families (ALGORITHM.md "Task adaptation").

Backends behind one interface (:class:`acdc_core.scientist.base.Scientist`): an LLM reached
through a chat client (an OpenAI-compatible server, or a local transformers chat model) and the
offline template scientist.  :func:`make_scientist` builds the configured one.
"""

from __future__ import annotations

from acdc_core.scientist.base import OPERATIONS, Scientist, TaskRequest


def make_scientist(section) -> Scientist:
    """The scientist of a ``ScientistSection``; LLM clients are imported only when configured."""
    if section.backend == "template":
        from acdc_core.scientist.templates import TemplateScientist

        return TemplateScientist()
    from acdc_core.scientist.chat import make_chat
    from acdc_core.scientist.llm import LLMScientist

    return LLMScientist(make_chat(section))


__all__ = ["OPERATIONS", "Scientist", "TaskRequest", "make_scientist"]
