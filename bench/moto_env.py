"""A threaded moto server on loopback with nudge's handlers pointed at it (the concurrency and
load benchmarks): the environment the simulator would set, ``AWS_ENDPOINT_URL`` at the server,
cached clients, settings, config and keys forgotten before and after."""

from __future__ import annotations

import logging
import os
import socket
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def moto_server(config_dir: Path) -> Iterator[str]:
    """Start a moto server on 127.0.0.1 from an empty state; yields its URL."""
    from moto.server import ThreadedMotoServer

    from nudge.sim.infra import ENV

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    # the environment is set before the server's threads start and restored after they stop:
    # setenv while another thread reads the environment can crash the process (glibc), and
    # under libfaketime (`make test-dates`) every timed wait of a thread reads it
    saved = {k: os.environ.get(k) for k in [*ENV, "AWS_ENDPOINT_URL", "NUDGE_CONFIG_DIR"]}
    os.environ.update(ENV)
    os.environ["AWS_ENDPOINT_URL"] = url
    os.environ["NUDGE_CONFIG_DIR"] = str(config_dir)
    os.environ.pop("NUDGE_DLQ_URL", None)
    _forget()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        # the server keeps moto's in-process state: start from nothing
        reset = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
        urllib.request.urlopen(reset).read()
        yield url
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _forget()


def _free_port() -> int:
    """A port free on loopback right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _forget() -> None:
    """Drop what was cached for the previous endpoint and environment."""
    from nudge.aws import clients
    from nudge.aws.secrets import forget_keys
    from nudge.config import get_config
    from nudge.env import reset_env

    clients.reset_clients()
    reset_env()
    get_config.cache_clear()
    forget_keys()
