"""Against a running ``prefect server start``: flow runs are recorded there, and the
``prefect.yaml`` deployment runs through a local process work pool and worker."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest
import yaml
from helpers.runs import acdc, acdc_env, pico_config

pytestmark = pytest.mark.slow
REPO = Path(__file__).parent.parent
PREFECT = str(Path(sys.executable).with_name("prefect"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("server")
    port = free_port()
    env = acdc_env(home)
    proc = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.time() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        assert proc.poll() is None and time.time() < deadline, "prefect server did not start"
        time.sleep(0.5)
    env["PREFECT_API_URL"] = url
    yield {"env": env, "home": home}
    os.killpg(proc.pid, 9)
    proc.wait()


def flow_runs(env: dict) -> dict[str, str]:
    code = (
        "import asyncio\n"
        "from prefect.client.orchestration import get_client\n"
        "async def main():\n"
        "    async with get_client() as c:\n"
        "        for r in await c.read_flow_runs():\n"
        "            print(r.name, r.state.type.value)\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    return dict(line.rsplit(" ", 1) for line in out.splitlines() if line.strip())


def test_run_is_recorded_on_the_server(server, pico_family, tmp_path):
    cfg = pico_config(pico_family["base"], generations=0)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = acdc(["run", "--config", str(path), "--run-dir", str(tmp_path / "run")], server["env"])
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Starting temporary server" not in res.stdout + res.stderr
    runs = flow_runs(server["env"])
    assert runs.get("acdc-run") == "COMPLETED" and runs.get("generation-0") == "COMPLETED"


def test_deployment_runs_through_a_process_worker(server, pico_family, tmp_path):
    env = {**server["env"], "ACDC_HOME": str(REPO)}
    cfg = pico_config(pico_family["base"], generations=0)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run_dir = tmp_path / "deployed"

    def prefect(*args, timeout=300):
        res = subprocess.run([PREFECT, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        return res.stdout

    prefect("work-pool", "create", "acdc-local", "--type", "process")
    prefect("--no-prompt", "deploy", "--all")
    assert "acdc-run/acdc-default" in prefect("deployment", "ls")
    prefect("deployment", "run", "acdc-run/acdc-default",
            "-p", f"run_dir={run_dir}", "-p", f"config_path={path}")
    prefect("worker", "start", "--pool", "acdc-local", "--run-once", timeout=600)
    con = duckdb.connect(str(run_dir / "acdc.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM generations").fetchall()[0][0] == 1
    con.close()
