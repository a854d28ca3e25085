"""The HAProxy the GPU script carries to a machine with no apt: fetched as .debs here, unpacked with
`dpkg -x` into a temporary folder, started through its own loader and libraries (benchmarks/gpu/)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from deployctl.front.config import FrontSpec
from deployctl.front.haproxy import HaproxyFront, socket_path
from tests.launch_helpers import free_port

pytestmark = pytest.mark.integration
SCRIPTS = Path(__file__).parents[2] / "benchmarks" / "gpu"


@pytest.fixture(scope="module")
def debs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("haproxy-debs")
    fetched = subprocess.run(["bash", SCRIPTS / "fetch-haproxy.sh", folder], capture_output=True, text=True)
    assert fetched.returncode == 0, fetched.stderr
    return folder


@pytest.mark.parametrize(
    "dpkg", [True, False], ids=["unpacked with dpkg -x", "unpacked without dpkg (Python)"]
)
def test_the_carried_haproxy_runs_a_front_from_its_own_libraries(
    haproxy, fake_engine, debs, tmp_path, monkeypatch, dpkg
):
    dest = tmp_path / "unpacked"
    env = {**os.environ, **({} if dpkg else {"UNPACK_WITHOUT_DPKG": "1"})}
    unpacked = subprocess.run(
        ["bash", SCRIPTS / "unpack-haproxy.sh", debs, dest], capture_output=True, text=True, env=env
    )
    assert unpacked.returncode == 0, unpacked.stderr
    wrapper = unpacked.stdout.strip()
    version = subprocess.run([wrapper, "-vv"], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert version.returncode == 0 and "HAProxy version 2.6" in version.stdout

    monkeypatch.setenv("PATH", f"{Path(wrapper).parent}:{os.environ['PATH']}")
    front = HaproxyFront("carried")
    spec = FrontSpec(
        deployment="carried", bind_host="127.0.0.1", bind_port=free_port(), socket_path=socket_path("carried")
    )
    try:
        record = front.start(spec, key=None, upstream=("127.0.0.1", fake_engine()))
        maps = Path(f"/proc/{record.pid}/maps").read_text()
        for library in ("libc.so.6", "liblua5.3.so.0", "libssl.so.3"):
            paths = {
                line.split()[-1]
                for line in maps.splitlines()
                if line.endswith(library) or f"/{library}" in line
            }
            assert paths and all(p.startswith(str(dest)) for p in paths), (library, paths)
        assert (
            front.observe().running
        )  # the recorded pid carries deployctl's token through the wrapper's exec
        import urllib.request

        assert urllib.request.urlopen(spec.public_url + "/v1/models", timeout=5).status == 200
    finally:
        front.remove()
