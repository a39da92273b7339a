"""The app's work folder: its alias over HTTP (HideWorkFolder), and removing killed apps' folders."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess

from restore.app_service import HideWorkFolder, claim_work_folder, remove_orphaned_work_folders

WORK = "/srv/tmp/restore-app-abc123"


def call(path: str, body: bytes = b"", kind: bytes = b"application/json", query: bytes = b"",
         answer_type: bytes = b"application/json", stream: bool = False):
    """(what the app received, the answer's headers, the answer's body) through HideWorkFolder,
    for an app that answers with the work folder's path in its body."""
    received, sent = {}, []

    async def app(scope, receive, send):
        received.update(path=scope["path"], query=scope["query_string"], body=(await receive())["body"])
        payload = json.dumps({"path": f"{WORK}/uploads/x.png", "url": f"/file={WORK}/x.png"}).encode()
        headers = [(b"content-type", answer_type)]
        if not stream:
            headers.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for part in ((payload, f"\n\ndata: {WORK}/y.png\n\n".encode()) if stream else (payload,)):
            await send({"type": "http.response.body", "body": part, "more_body": stream})
        if stream:
            await send({"type": "http.response.body", "body": b""})

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": path, "raw_path": path.encode(), "query_string": query,
             "headers": [(b"content-type", kind)]}
    asyncio.run(HideWorkFolder(app, WORK)(scope, receive, send))
    return received, dict(sent[0]["headers"]), b"".join(message.get("body", b"") for message in sent[1:])


def test_the_app_gets_the_real_folder_and_the_client_only_the_alias():
    received, headers, body = call("/gradio_api/file=@work/uploads/x.png", body=b'{"path": "@work/a.png"}',
                                   query=b"path=%40work/b.png")
    assert received == {"path": f"/gradio_api/file={WORK}/uploads/x.png", "query": f"path={WORK}/b.png".encode(),
                        "body": f'{{"path": "{WORK}/a.png"}}'.encode()}
    assert json.loads(body) == {"path": "@work/uploads/x.png", "url": "/file=@work/x.png"}
    assert int(headers[b"content-length"]) == len(body)


def test_uploaded_file_contents_and_binary_answers_are_left_alone():
    upload = b"--b\r\ncontent: @work/a.png\r\n--b--"
    received, _, _ = call("/upload", body=upload, kind=b"multipart/form-data; boundary=b")
    assert received["body"] == upload
    _, _, body = call("/gradio_api/file=@work/x.png", answer_type=b"image/png")
    assert WORK.encode() in body  # a file's bytes are never rewritten


def test_event_streams_are_rewritten_event_by_event_without_a_length():
    _, headers, body = call("/queue/data", answer_type=b"text/event-stream", stream=True)
    assert WORK.encode() not in body and b"data: @work/y.png" in body and b"content-length" not in headers


def test_only_folders_of_processes_that_ended_are_removed(tmp_path):
    ended = subprocess.Popen(["true"])
    ended.wait()
    killed, running, foreign = (tmp_path / f"restore-app-{name}" for name in ("killed", "running", "foreign"))
    for folder in (killed, running, foreign):
        (folder / "results").mkdir(parents=True)
    (killed / "owner.pid").write_text(str(ended.pid))
    claim_work_folder(running)
    assert (running / "owner.pid").read_text() == str(os.getpid())
    assert remove_orphaned_work_folders(tmp_path) == [killed]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["restore-app-foreign", "restore-app-running"]
