"""A real headless Chromium (Debian's `chromium` package), driven over the DevTools protocol on a
pipe (`--remote-debugging-pipe`: JSON messages ending in NUL on file descriptors 3 and 4), so
tests can load a page, press keys and read the DOM without a websocket library or a driver.

``Browser.find()`` is None where no Chromium is installed; tests skip with that reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from typing import Any

KEYS = {
    "Tab": {"key": "Tab", "code": "Tab", "windowsVirtualKeyCode": 9},
    "Space": {"key": " ", "code": "Space", "windowsVirtualKeyCode": 32, "text": " "},
    "Enter": {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "text": "\r"},
    "ArrowDown": {"key": "ArrowDown", "code": "ArrowDown", "windowsVirtualKeyCode": 40},
}


class Browser:
    """One headless Chromium with one page; close it with ``close()`` (or use ``with``)."""

    @staticmethod
    def find() -> str | None:
        """The Chromium binary, if there is one (none when ``NUDGE_NO_BROWSER`` is set: the
        suite run under a moved clock, where Chromium hangs on libfaketime)."""
        if os.environ.get("NUDGE_NO_BROWSER"):
            return None
        for name in ("chromium", "chromium-browser", "google-chrome"):
            path = shutil.which(name)
            if path:
                return path
        return None

    def __init__(self, binary: str, width: int = 375, height: int = 740) -> None:
        self.profile = tempfile.mkdtemp(prefix="nudge-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        args = [
            binary,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--remote-debugging-pipe",
            f"--user-data-dir={self.profile}",
            "about:blank",
        ]

        def fds() -> None:  # the protocol's fixed descriptors in the child: 3 in, 4 out
            high_r, high_w = os.dup(to_browser_r), os.dup(from_browser_w)  # never 3 or 4 clobbered
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.process = subprocess.Popen(  # a fixed binary, fixed flags
            args,
            preexec_fn=fds,  # only dup2, before exec
            pass_fds=(3, 4),  # kept open past preexec_fn (close_fds runs after it)
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._id = 0
        self.session: str | None = None
        target = self.call("Target.createTarget", {"url": "about:blank"}, browser=True)
        attached = self.call(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, browser=True
        )
        self.session = attached["sessionId"]
        self.call("Page.enable")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 2, "mobile": True},
        )

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, params: dict[str, Any] | None = None, browser: bool = False) -> Any:
        """Send one command and wait (up to 30 s) for its answer."""
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if self.session and not browser:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            reply = self._next()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
        raise TimeoutError(method)

    def _next(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_browser, 65536)
            if not chunk:
                raise RuntimeError("Chromium closed the pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def open(self, url: str) -> None:
        """Load ``url`` and wait until its document is complete."""
        self.call("Page.navigate", {"url": url})
        self.wait_for("document.readyState === 'complete' && location.href !== 'about:blank'")

    def js(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, seconds: float = 20) -> None:
        """Until ``expression`` is true in the page (polling; the page may be navigating)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if self.js(expression):
                    return
            except RuntimeError:
                pass  # between documents
            time.sleep(0.05)
        raise TimeoutError(expression)

    def press(self, name: str) -> None:
        """Press and release one key, as a keyboard does."""
        key = KEYS[name]
        down = {"type": "keyDown", **key}
        up = {"type": "keyUp", **{k: v for k, v in key.items() if k != "text"}}
        self.call("Input.dispatchKeyEvent", down)
        self.call("Input.dispatchKeyEvent", up)

    def tab_to(self, expression: str, limit: int = 30) -> None:
        """Press Tab until ``expression`` (about ``document.activeElement``) is true."""
        for _ in range(limit):
            self.press("Tab")
            if self.js(expression):
                return
        raise AssertionError(f"Tab never reached: {expression}")

    def close(self) -> None:
        """Stop Chromium and remove its profile."""
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.call("Browser.close", browser=True)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        for fd in (self._to_browser, self._from_browser):
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)
