"""The Gradio app, launched on a free port: gradio_client on its endpoints, limits, file access,
what it keeps and shows of the server's files, and a real headless Chromium (Playwright) that
uploads an image, waits for the result and checks the controls a first-time user sees."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import av
import httpx
import numpy as np
import pytest
from skimage import data

from restore.io.image import read_image, write_image

pytestmark = pytest.mark.slow  # subprocesses, servers or training: not in the fast subset

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
MAX_IMAGE_MP, MAX_VIDEO_SECONDS = 0.1, 2.0
EXAMPLE = REPO / "assets" / "examples" / "motorcycle_sigma25.png"


@pytest.fixture(scope="module")
def weights(tmp_path_factory, publish_local, publish_uformer_pair, publish_video) -> Path:
    weights = tmp_path_factory.mktemp("weights")
    publish_uformer_pair(weights)
    publish_local(weights, name="tiny_local_real", noise={"type": "real", "dataset": "SIDD"})
    publish_video(weights)
    broken = publish_local(weights, name="tiny_broken_gauss")  # its weight file no longer matches its card
    weight_file = weights / f"{broken.name}.safetensors"
    weight_file.write_bytes(weight_file.read_bytes()[:-8] + bytes(8))
    return weights


@pytest.fixture(scope="module")
def app(tmp_path_factory, weights, running_app):
    work = tmp_path_factory.mktemp("work")
    options = ["--weights-dir", str(weights), "--device", "cpu", "--max-image-mp", str(MAX_IMAGE_MP),
               "--max-video-seconds", str(MAX_VIDEO_SECONDS), "--video-tile", "64"]
    with running_app(options, work) as (url, _):
        yield url, work


@pytest.fixture(scope="module")
def app_url(app) -> str:
    return app[0]


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def test_image_endpoint_runs_skipat_and_the_baseline(client):
    from gradio_client import handle_file

    (before, after), stats, download, baseline = client.predict(
        handle_file(str(EXAMPLE)), "tiny_uformer_skipat_gauss", 25, False, False, True, api_name="/denoise_image")
    assert read_image(before).pixels.shape == read_image(after).pixels.shape == (256, 256, 3)
    assert not np.array_equal(read_image(before).pixels, read_image(after).pixels)
    assert "tiny_uformer_skipat_gauss" in stats and "The baseline **tiny_uformer_gauss** took" in stats
    assert "× as fast on this image" in stats and "less arithmetic" in stats
    assert "This model needs no noise level" in stats
    assert not any(word in stats for word in ("GMAC", "MACs", "blind", "sigma"))  # plain words
    assert Path(download).name == "motorcycle_sigma25_tiny_uformer_skipat_gauss.png"
    assert read_image(download).pixels.shape == (256, 256, 3)
    assert baseline["visible"] is True


def test_best_quality_runs_the_eight_way_ensemble(client):
    from gradio_client import handle_file

    args = (handle_file(str(EXAMPLE)), "tiny_uformer_skipat_gauss", 25, False, False, False)
    _, plain_stats, plain, _ = client.predict(*args, api_name="/denoise_image")
    _, stats, best, _ = client.predict(*args, True, api_name="/denoise_image")
    assert "averaging 8 flipped and turned copies" in stats and "averaging" not in plain_stats
    assert read_image(best).pixels.shape == read_image(plain).pixels.shape
    assert not np.array_equal(read_image(best).pixels, read_image(plain).pixels)


def test_gray_16_bit_upload_comes_back_gray_16_bit(client, tmp_path):
    from gradio_client import handle_file

    source = write_image(tmp_path / "gray16.png", data.camera()[::4, ::4].astype(np.uint16) * 257)
    _, _, download, _ = client.predict(handle_file(str(source)), "tiny_local_real", 25, False, False, False,
                                       api_name="/denoise_image")
    pixels = read_image(download).pixels
    assert pixels.shape == (128, 128) and pixels.dtype == np.uint16


def test_too_many_pixels_get_a_friendly_message(client, tmp_path):
    from gradio_client import handle_file

    big = write_image(tmp_path / "big.png", data.astronaut()[:400, :300])  # 0.12 MP > 0.1 MP
    with pytest.raises(Exception, match=r"0.12 MP, more than the 0.1 MP allowed in this app"):
        client.predict(handle_file(str(big)), "tiny_uformer_skipat_gauss", 25, False, False, False,
                       api_name="/denoise_image")


def test_video_endpoint_keeps_frames_and_audio_and_gives_a_side_by_side(client, tmp_path, make_clip):
    from gradio_client import handle_file

    clip = make_clip(tmp_path / "clip.mp4", frames=9)
    video, preview, stats = client.predict(handle_file(str(clip)), "tiny_video_skipat_gauss", 30, False, True,
                                           False, api_name="/denoise_video")
    video = video["video"] if isinstance(video, dict) else video
    preview = preview["video"] if isinstance(preview, dict) else preview
    with av.open(video) as out:
        assert out.streams.audio, "the audio track must survive"
        stream = out.streams.video[0]
        assert (stream.width, stream.height) == (64, 48)
        assert sum(1 for _ in out.decode(video=0)) == 9
    with av.open(preview) as side:
        assert side.streams.video[0].width == 128 and not side.streams.audio
    assert "Denoised 9 frames" in stats and "frames a second" in stats
    assert "Noise of level σ = 30 was added first. Noise level as set: σ = 30" in stats
    assert not any(word in stats for word in ("GMAC", "MACs", "blind", "sigma"))


def test_too_long_video_gets_a_friendly_message(client, tmp_path, make_clip):
    from gradio_client import handle_file

    clip = make_clip(tmp_path / "long.mp4", frames=30)  # 3 s at 10 fps
    with pytest.raises(Exception, match="this app takes up to 2 s"):
        client.predict(handle_file(str(clip)), "tiny_video_skipat_gauss", 30, False, False, False,
                       api_name="/denoise_video")


def test_files_outside_the_work_folder_are_not_served(app_url):
    for path in ("/etc/passwd", REPO / "app.py", REPO / "weights" / "registry.json", EXAMPLE):
        response = httpx.get(f"{app_url}gradio_api/file={path}")
        assert response.status_code in (403, 404), (path, response.status_code)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed "
                    "(apt-get install -y chromium chromium-driver; pip install playwright)")
def test_real_browser_uploads_clicks_and_sees_the_result(app_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    notes = tmp_path / "notes.png"
    notes.write_text("not an image\n" * 20)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(app_url, wait_until="networkidle")
            # Two kinds of noise a user can tell apart; camera photos come first, and their model
            # (here a real-noise one) takes no σ: neither the slider nor add-noise is offered.
            expect(page.get_by_label("Photo from a camera or phone")).to_be_checked()
            expect(page.locator("#image-model input")).to_have_value("tiny_local_real")
            expect(page.locator("#image-add-noise")).to_be_hidden()
            expect(page.locator("#image-sigma")).to_be_hidden()
            page.get_by_label("Synthetic Gaussian noise").check()
            expect(page.locator("#image-model input")).to_have_value("tiny_uformer_skipat_gauss", timeout=10_000)
            # The Gaussian SkipAt model is blind: σ only matters as noise to add first.
            expect(page.locator("#image-sigma")).to_be_hidden()
            expect(page.locator("#image-sigma-auto")).to_be_hidden()
            page.locator("#image-add-noise input").check()
            expect(page.locator("#image-sigma")).to_be_visible(timeout=10_000)
            page.locator("#image-add-noise input").uncheck()
            expect(page.locator("#image-sigma")).to_be_hidden(timeout=10_000)

            page.locator("#image-input input[type=file]").set_input_files(str(EXAMPLE))
            expect(page.locator("#image-input img")).to_be_visible(timeout=30_000)
            page.get_by_label("Also run the baseline Uformer to compare speed").check()
            page.locator("#image-run").click()
            expect(page.locator("#image-stats")).to_contain_text("The baseline", timeout=90_000)
            result = page.locator("#image-output img").last
            expect(result).to_be_visible(timeout=30_000)
            assert result.evaluate("img => img.complete && img.naturalWidth") == 256
            page.screenshot(path=str(tmp_path / "app_image_tab.png"), full_page=True)

            # A file that is no image: refused at once, and the last result goes with it.
            page.locator("#image-input input[type=file]").set_input_files(str(notes))
            expect(page.locator("#image-stats")).to_contain_text("Could not use the uploaded image: notes.png",
                                                                 timeout=30_000)
            expect(page.locator("#image-input img")).to_have_count(0)
            expect(page.locator("#image-output img")).to_have_count(0)
            # Denoise without an image: the error comes alone, not under an earlier message.
            page.locator("#image-run").click()
            expect(page.locator(".toast-body").last).to_contain_text("Upload an image", timeout=30_000)
            expect(page.locator("#image-stats")).not_to_contain_text("Could not use")

            # Back to camera photos: the Gaussian models leave the list, and add-noise goes.
            page.get_by_label("Photo from a camera or phone").check()
            expect(page.locator("#image-model input")).to_have_value("tiny_local_real", timeout=10_000)
            expect(page.locator("#image-add-noise")).to_be_hidden(timeout=10_000)
            page.locator("#image-model input").click()
            expect(page.get_by_role("option", name="tiny_uformer_gauss")).to_have_count(0)
            page.keyboard.press("Escape")

            # On a phone, the error toast stays clear of the heading.
            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.goto(app_url, wait_until="networkidle")
            phone.locator("#image-run").click()
            toast = phone.locator(".toast-body").first
            expect(toast).to_contain_text("Upload an image", timeout=30_000)
            heading = phone.locator("h1").first.bounding_box()
            assert toast.bounding_box()["y"] > heading["y"] + heading["height"]
        finally:
            browser.close()
    shot = tmp_path / "app_image_tab.png"
    assert shot.stat().st_size > 10_000
    if os.environ.get("RESTORE_SCREENSHOT_DIR"):  # keep a copy, e.g. as a CI artefact
        shutil.copy(shot, Path(os.environ["RESTORE_SCREENSHOT_DIR"]) / shot.name)


def test_no_message_label_or_stats_line_shows_a_server_path(app, client, weights):
    from gradio_client import handle_file

    with pytest.raises(Exception) as refused:  # the weights error names the weight file
        client.predict(handle_file(str(EXAMPLE)), "tiny_broken_gauss", 25, True, False, False,
                       api_name="/denoise_image")
    message = str(refused.value)
    assert "tiny_broken_gauss.safetensors has sha256" in message
    assert str(weights) not in message and "/tmp" not in message


def test_no_page_upload_or_result_names_the_work_folder(app, weights):
    """Gradio's own file payloads (``path`` and ``url``) name the work folder as ``@work``; the
    files still download, and the alias opens nothing outside the folder."""
    url, work = app
    [folder] = work.glob("restore-app-*")
    seen = [httpx.get(url, timeout=30).text, httpx.get(url + "config", timeout=30).text]
    with EXAMPLE.open("rb") as file:
        upload = httpx.post(url + "gradio_api/upload", files={"files": file}, timeout=30)
    seen.append(upload.text)
    [uploaded] = upload.json()
    assert uploaded.startswith("@work/uploads/") and uploaded.endswith(EXAMPLE.name)
    image = {"path": uploaded, "meta": {"_type": "gradio.FileData"}, "orig_name": EXAMPLE.name}
    call = httpx.post(url + "gradio_api/call/denoise_image", timeout=30,
                      json={"data": [image, "tiny_uformer_skipat_gauss", 25, True, False, False, False]})
    events = httpx.get(url + f"gradio_api/call/denoise_image/{call.json()['event_id']}", timeout=120).text
    seen.append(events)
    assert "event: complete" in events, events[-2000:]
    for text in seen:
        assert str(folder) not in text and str(work) not in text and str(weights) not in text
    result = events.split("event: complete", 1)[1].split("data:", 1)[1].strip().splitlines()[0]
    download = next(item for item in json.loads(result) if isinstance(item, dict))
    assert download["path"].startswith("@work/") and "@work/" in download["url"]
    fetched = httpx.get(download["url"], timeout=30)
    assert fetched.status_code == 200 and fetched.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert httpx.get(url + "gradio_api/file=@work/../../../etc/passwd").status_code in (403, 404)


def test_a_file_that_is_no_image_is_refused_as_it_is_uploaded(client, tmp_path):
    from gradio_client import handle_file

    notes = tmp_path / "notes.png"
    notes.write_text("not an image\n" * 20)
    image, slider, stats, download, baseline = client.predict(handle_file(str(notes)), api_name="/check_image")
    assert image is None and slider is None and download is None  # the upload and the last result go
    assert stats.startswith("Could not use the uploaded image: notes.png: not a readable PNG")
    assert "/" not in stats.split("image:", 1)[1]
    image, _, stats, _, _ = client.predict(handle_file(str(EXAMPLE)), api_name="/check_image")
    assert Path(image).name == EXAMPLE.name and stats == ""


def test_a_file_that_is_no_video_is_refused_as_it_is_uploaded(client, tmp_path):
    from gradio_client import handle_file

    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video\n" * 20)
    video, result, preview, stats = client.predict(handle_file(str(notes)), api_name="/check_video")
    assert video is None and result is None and preview is None
    assert stats.startswith("Could not read the uploaded video: notes.mp4") and "/" not in stats


def test_the_launch_hint_names_the_share_flag(app):
    log = (app[1] / "app.log").read_text()
    assert "--share" in log and "share=True" not in log


def test_only_the_latest_results_stay_and_work_folders_go_when_the_app_stops_or_was_killed(weights, running_app,
                                                                                             tmp_path):
    from gradio_client import Client, handle_file

    work = tmp_path / "work"
    orphan = work / "restore-app-killed"  # the folder of an app that was killed with kill -9
    (orphan / "results").mkdir(parents=True)
    ended = subprocess.Popen(["true"])
    ended.wait()  # reaped: its pid names no process now
    (orphan / "owner.pid").write_text(str(ended.pid))
    with running_app(["--weights-dir", str(weights), "--device", "cpu", "--keep-results", "2"], work) as (url, app):
        client = Client(url, verbose=False)
        for _ in range(5):
            client.predict(handle_file(str(EXAMPLE)), "tiny_local_real", 25, True, False, False,
                           api_name="/denoise_image")
        [folder] = work.glob("restore-app-*")
        assert len(list((folder / "results").iterdir())) == 3  # the two kept and the last one
        app.send_signal(signal.SIGHUP)  # a closed terminal
        app.wait(timeout=30)
    assert app.returncode == 143 and "terminated: the app stopped" in (work / "app.log").read_text()
    assert [path.name for path in work.iterdir()] == ["app.log"]
