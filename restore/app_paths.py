"""The app's work folder, never named over HTTP, and work folders of apps that were killed.

Gradio's protocol carries server paths: every file it hands out or takes back (uploads,
results, examples in ``/config`` and the page) has a ``path`` and a ``url`` with the absolute
path in them. :class:`HideWorkFolder` is an ASGI middleware that writes the work folder as a
short alias (``@work``) in every text response and reads the alias back in request paths,
query strings and JSON bodies, so Gradio's own checks still see the real path and the
browser never does. Uploaded file contents are never touched.

:func:`claim_work_folder` and :func:`remove_orphaned_work_folders` let an app that was killed
(``kill -9``, a power cut) have its folder removed by the next app started on the same root.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

ALIAS = "@work"
OWNER_FILE = "owner.pid"
TEXT_TYPES = (b"application/json", b"text/", b"application/javascript")


class HideWorkFolder:
    """ASGI middleware: ``work_dir`` in outgoing text becomes ``@work``, and back on the way in."""

    def __init__(self, app, work_dir: str | Path):
        self.app = app
        self.real = str(work_dir).encode()
        self.alias = ALIAS.encode()

    def inward(self, data: bytes) -> bytes:
        return data.replace(self.alias, self.real).replace(b"%40" + self.alias[1:], self.real)

    def outward(self, data: bytes) -> bytes:
        return data.replace(self.real, self.alias)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        scope = dict(scope)
        scope["path"] = self.inward(scope["path"].encode()).decode()
        if scope.get("raw_path"):
            scope["raw_path"] = self.inward(scope["raw_path"])
        scope["query_string"] = self.inward(scope.get("query_string", b""))
        headers = dict(scope.get("headers") or [])
        json_body = headers.get(b"content-type", b"").startswith(b"application/json")

        async def receive_inward():
            message = await receive()
            if json_body and message["type"] == "http.request":
                message = {**message, "body": self.inward(message.get("body", b""))}
            return message

        state = {"rewrite": False, "stream": False, "start": None, "body": []}

        async def send_outward(message):
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                kind = headers.get(b"content-type", b"")
                state["rewrite"] = kind.startswith(TEXT_TYPES) and b"content-encoding" not in headers
                state["stream"] = kind.startswith(b"text/event-stream") or b"content-length" not in headers
                if not state["rewrite"] or state["stream"]:
                    if state["rewrite"]:  # a stream: no length to fix, each event goes out whole
                        message = {**message, "headers": [(key, value) for key, value in message["headers"]
                                                          if key != b"content-length"]}
                    return await send(message)
                state["start"] = message  # held until the body is known: its length changes
                return None
            if message["type"] != "http.response.body" or not state["rewrite"]:
                return await send(message)
            if state["stream"]:
                return await send({**message, "body": self.outward(message.get("body", b""))})
            state["body"].append(message.get("body", b""))
            if message.get("more_body"):
                return None
            body = self.outward(b"".join(state["body"]))
            start = state["start"]
            headers = [(key, value) for key, value in start["headers"] if key != b"content-length"]
            await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            return await send({"type": "http.response.body", "body": body})

        return await self.app(scope, receive_inward, send_outward)


def claim_work_folder(work_dir: Path) -> None:
    """Mark ``work_dir`` as this process's, for :func:`remove_orphaned_work_folders`."""
    (work_dir / OWNER_FILE).write_text(str(os.getpid()), encoding="ascii")


def remove_orphaned_work_folders(root: Path, prefix: str = "restore-app-") -> list[Path]:
    """Remove the work folders under ``root`` whose app process is gone; returns them.

    Only folders this module claimed (an ``owner.pid`` naming a process that no longer
    exists) are removed: a running app's folder, and anything else, is left alone."""
    removed = []
    for folder in sorted(root.glob(f"{prefix}*")):
        try:
            pid = int((folder / OWNER_FILE).read_text(encoding="ascii").strip())
        except (OSError, ValueError, UnicodeDecodeError):
            continue
        if pid <= 0 or process_exists(pid):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
