"""Sandboxed execution of untrusted task-family code (time, memory, process limits, no network)."""

from acdc_core.sandbox.client import Sandbox, SandboxError, SandboxLimits

__all__ = ["Sandbox", "SandboxError", "SandboxLimits"]
