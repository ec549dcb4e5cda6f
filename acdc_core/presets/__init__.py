"""Embedded config presets: default (CPU, offline) and paper (Qwen2.5-7B on GPU)."""
