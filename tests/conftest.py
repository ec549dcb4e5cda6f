import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the tests import their helpers as helpers.*

from helpers.pico import build_family  # noqa: E402


@pytest.fixture(scope="session")
def pico_family(tmp_path_factory) -> dict[str, Path]:
    """Base + two expert pico Llama folders (float32 safetensors)."""
    return build_family(tmp_path_factory.mktemp("pico"))


@pytest.fixture(scope="session")
def s3_server():
    """A real S3-compatible server (moto's server mode) on loopback, with one bucket.

    Yields {"endpoint", "bucket", "env"}: ``env`` holds the variables a client (s3fs, boto3, an
    ``acdc run`` subprocess) needs; the tests set them, the config never carries them.
    """
    import socket

    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {"AWS_ACCESS_KEY_ID": "acdc-test-key", "AWS_SECRET_ACCESS_KEY": "acdc-test-secret-7f3e9",
           "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_DEFAULT_REGION": "us-east-1"}
    import boto3

    boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                 aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                 region_name="us-east-1").create_bucket(Bucket="acdc-runs")
    yield {"endpoint": env["AWS_ENDPOINT_URL"], "bucket": "acdc-runs", "env": env}
    server.stop()
