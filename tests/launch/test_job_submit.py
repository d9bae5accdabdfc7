"""``ray job submit`` against a local ``ray start --head``, as docs/cluster.md writes it: token
auth on (Ray 2.60 turns it on when a token exists), the client with ``RAY_AUTH_MODE=token``, the
entrypoint naming the virtual environment's python. One tiny iteration, then the cluster is
stopped. The head has its own temp dir, ports and token, so no other Ray on this machine sees
it (``ray stop`` would stop them all: the head runs with ``--block`` and is ended by signal)."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .run_dirs import ROOT, tiny_config_file

RAY = Path(sys.executable).with_name("ray")
HEAD_START_S = 240
HEAD_STOP_S = 90


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def dashboard_up(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def local_head(env: dict[str, str]) -> Iterator[str]:
    """A ``ray start --head --block`` of its own; yields the job server's address."""
    # A short path: Ray's socket paths under it must stay within the 107 characters of a
    # Unix socket name.
    temp_dir = tempfile.mkdtemp(prefix="blobrl-rj-", dir="/tmp")
    gcs, dashboard, client, node, objects, agent, agent_grpc, metrics, runtime_env = free_ports(9)
    command = [
        str(RAY), "start", "--head", "--block", f"--temp-dir={temp_dir}", f"--port={gcs}",
        "--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}",
        f"--ray-client-server-port={client}", f"--node-manager-port={node}",
        f"--object-manager-port={objects}", f"--dashboard-agent-listen-port={agent}",
        f"--dashboard-agent-grpc-port={agent_grpc}", f"--metrics-export-port={metrics}",
        f"--runtime-env-agent-port={runtime_env}", "--num-cpus=2",
        "--object-store-memory=200000000",
    ]  # fmt: skip
    log_path = Path(temp_dir) / "head.log"
    with open(log_path, "w") as head_log:
        head = subprocess.Popen(
            command, env=env, cwd=temp_dir, stdout=head_log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + HEAD_START_S
        while not dashboard_up(dashboard):
            assert head.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(1.0)
        yield f"http://127.0.0.1:{dashboard}"
    finally:
        head.send_signal(signal.SIGTERM)  # --block: it stops what it started
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.wait(timeout=HEAD_STOP_S)
        # Whatever is left of its process group (workers, agents) goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGKILL)
        head.wait(timeout=30)
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_job_submitted_to_a_local_head_trains_an_iteration(tmp_path):
    token = tmp_path / "auth_token"
    token.write_text(secrets.token_hex(32))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(
        RAY_AUTH_TOKEN_PATH=str(token),  # this test's token, not ~/.ray/auth_token
        RAY_USAGE_STATS_ENABLED="0",
        # A loaded test machine starts Serve's proxy slowly; give it time before the
        # controller gives up on it.
        RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S="60",
        NUMBA_CACHE_DIR=os.environ.get("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache")),
    )
    phase = {"first": 1, "last": 1, "determinizations": 1, "simulations": 4,
             "games_per_iteration": 16}  # fmt: skip
    config = tiny_config_file(tmp_path, **{"run.iterations": 1, "schedule.phases": [phase]})
    run_dir = tmp_path / "run"
    with local_head(env) as address:
        submit = subprocess.run(
            [str(RAY), "job", "submit", "--address", address, "--working-dir", str(ROOT),
             "--submission-id", f"blobrl-test-{os.getpid()}", "--",
             sys.executable, "-m", "blobrl.launch", str(config), "--run-dir", str(run_dir)],
            env={**env, "RAY_AUTH_MODE": "token"}, cwd=ROOT, capture_output=True, text=True,
            timeout=600,
        )  # fmt: skip
    out = submit.stdout + submit.stderr
    assert submit.returncode == 0, out
    assert "succeeded" in out and "finished: 16 games, 1 iterations" in out, out
    assert (run_dir / "checkpoints" / "iter_000001.pt").is_file()
    assert list((run_dir / "tb").iterdir())  # TensorBoard files, in the run directory
