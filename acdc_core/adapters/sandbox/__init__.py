"""Sandboxed execution of untrusted task-family code (namespaces, limits, a validating parent)."""

from acdc_core.adapters.sandbox.client import IsolationError, Sandbox, SandboxError, SandboxLimits, describe_isolation

__all__ = ["IsolationError", "Sandbox", "SandboxError", "SandboxLimits", "describe_isolation"]
