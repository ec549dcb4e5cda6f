import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from pico import build_family  # noqa: E402


@pytest.fixture(scope="session")
def pico_family(tmp_path_factory) -> dict[str, Path]:
    """Base + two expert pico Llama folders (float32 safetensors)."""
    return build_family(tmp_path_factory.mktemp("pico"))
