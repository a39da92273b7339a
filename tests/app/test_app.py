"""The Gradio app, launched on a free port: gradio_client on both endpoints, limits, file access,
and a real headless Chromium (Playwright) that uploads an image and waits for the result."""
from __future__ import annotations

import os
import shutil
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
def app_url(tmp_path_factory, publish_local, publish_uformer_pair, publish_video, running_app):
    weights = tmp_path_factory.mktemp("weights")
    publish_uformer_pair(weights)
    publish_local(weights, name="tiny_local_real", noise={"type": "real", "dataset": "SIDD"})
    publish_video(weights)
    work = tmp_path_factory.mktemp("work")
    options = ["--weights-dir", str(weights), "--device", "cpu", "--max-image-mp", str(MAX_IMAGE_MP),
               "--max-video-seconds", str(MAX_VIDEO_SECONDS), "--video-tile", "64"]
    with running_app(options, work) as (url, _):
        yield url


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
    assert "tiny_uformer_skipat_gauss" in stats and "GMACs" in stats and "(baseline)" in stats
    assert "fewer MACs" in stats and "Speed-up over the baseline" in stats
    assert Path(download).name == "motorcycle_sigma25_tiny_uformer_skipat_gauss.png"
    assert read_image(download).pixels.shape == (256, 256, 3)
    assert baseline["visible"] is True


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
    assert "9 frames" in stats


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

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(app_url, wait_until="networkidle")
            page.locator("#image-input input[type=file]").set_input_files(str(EXAMPLE))
            expect(page.locator("#image-input img")).to_be_visible(timeout=30_000)
            page.get_by_label("Also run the baseline Uformer to compare speed").check()
            page.locator("#image-run").click()
            expect(page.locator("#image-stats")).to_contain_text("(baseline)", timeout=90_000)
            result = page.locator("#image-output img").last
            expect(result).to_be_visible(timeout=30_000)
            assert result.evaluate("img => img.complete && img.naturalWidth") == 256
            page.screenshot(path=str(tmp_path / "app_image_tab.png"), full_page=True)
            # A real-noise model takes no σ: its slider disappears.
            expect(page.locator("#image-sigma")).to_be_visible()
            page.locator("#image-model input").click()
            page.get_by_role("option", name="tiny_local_real").click()
            expect(page.locator("#image-sigma")).to_be_hidden(timeout=10_000)
        finally:
            browser.close()
    shot = tmp_path / "app_image_tab.png"
    assert shot.stat().st_size > 10_000
    if os.environ.get("RESTORE_SCREENSHOT_DIR"):  # keep a copy, e.g. as a CI artefact
        shutil.copy(shot, Path(os.environ["RESTORE_SCREENSHOT_DIR"]) / shot.name)
