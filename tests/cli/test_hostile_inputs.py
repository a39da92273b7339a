"""Hostile inputs: every one gives exit code 2 (or a clean Gradio error), one clear line, no
traceback, no partial file, no server path shown, and no large memory growth.

Small crafted files throughout: image bombs are PNGs whose header declares a huge image,
weight cards are malformed copies of a tiny real one, and the app runs on a loopback port.
"""
from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import httpx
import numpy as np
import pytest
import yaml
from skimage import data

from restore.io.image import read_image, write_image

pytestmark = pytest.mark.slow  # subprocesses, servers or training: not in the fast subset

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}


def run(*args: str, cwd: Path = REPO, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, env=ENV, capture_output=True, text=True,
                          timeout=timeout)


def assert_one_error_line(done: subprocess.CompletedProcess, fragment: str) -> None:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert done.returncode == 2, done.stderr[-2000:]
    assert len(errors) == 1 and fragment in errors[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_bomb(width: int, height: int, full: bool) -> bytes:
    """An RGB PNG declaring ``width`` x ``height``: with ``full``, a valid all-black image
    (compressed to about a thousandth of its decoded size); without, only its first rows."""
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    compressor = zlib.compressobj(9)
    row = b"\x00" * (3 * width + 1)
    rows = height if full else 8
    body = b"".join(compressor.compress(row * min(256, rows - start)) for start in range(0, rows, 256))
    return b"\x89PNG\r\n\x1a\n" + header + png_chunk(b"IDAT", body + compressor.flush()) + png_chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def weights(tmp_path_factory, publish, publish_local, publish_uformer_pair, tiny_video) -> Path:
    folder = tmp_path_factory.mktemp("weights")
    publish_local(folder)
    publish_uformer_pair(folder)
    publish(folder, "tiny_video_skipat_gauss", "UniformerVideoSkipAt", tiny_video, kind="video",
            noise_map_input=True)
    return folder


@pytest.fixture
def photo(tmp_path) -> Path:
    return write_image(tmp_path / "photo.png", data.astronaut()[:64, :64])


# ----- images -------------------------------------------------------------------------------

def test_a_png_bomb_exits_2_before_decoding(tmp_path, weights):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb(40000, 40000, full=False))
    done = run("restore/denoise_image.py", "--input", str(bomb), "--weights-dir", str(weights))
    assert_one_error_line(done, "40000x40000 = 1,600 MP, more than the 400 MP allowed")
    assert not (tmp_path / "bomb_denoised.png").exists()


@pytest.mark.parametrize("content, fragment", [(b"", "the file is empty"), (b"\x89PNG\r\n\x1a\nbroken", "not a readable PNG"),
                                               ("truncated", "not a readable PNG")])
def test_corrupt_and_truncated_images_exit_2(tmp_path, weights, content, fragment):
    path = tmp_path / "bad.png"
    if content == "truncated":
        whole = (tmp_path / "whole.png")
        write_image(whole, data.astronaut()[:64, :64])
        path.write_bytes(whole.read_bytes()[:200])
        whole.unlink()
    else:
        path.write_bytes(content)
    done = run("restore/denoise_image.py", "--input", str(path), "--weights-dir", str(weights))
    assert done.returncode == 2 and fragment in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.png"]


def test_an_unwritable_output_folder_is_refused_before_any_work(photo, weights):
    done = run("restore/denoise_image.py", "--input", str(photo), "--output", "/proc/out.png",
               "--weights-dir", str(weights))
    assert_one_error_line(done, "output folder /proc is not writable")
    assert "images" not in done.stderr  # no progress bar: nothing was denoised


def test_sigterm_during_an_image_run_leaves_no_partial_file(tmp_path, weights):
    folder = tmp_path / "in"
    folder.mkdir()
    for index in range(40):
        write_image(folder / f"{index:02d}.png", data.astronaut()[:96, :96])
    process = subprocess.Popen([sys.executable, "restore/denoise_image.py", "--input", str(folder),
                                "--weights-dir", str(weights), "--model", "tiny_uformer_skipat_gauss"],
                               cwd=REPO, env=ENV, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    out = tmp_path / "in_denoised"
    deadline = time.monotonic() + 120
    while not (out.is_dir() and any(out.glob("*.png"))) and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143 and "terminated" in stderr and "Traceback" not in stderr
    assert all(p.suffix == ".png" and not p.name.startswith(".") for p in out.iterdir())


def run_measured(*args: str, timeout: float = 180) -> tuple[subprocess.CompletedProcess, float]:
    """A CLI run in a child whose address space is capped at 6 GiB (an unbounded read fails
    there rather than filling the machine): its result and its peak resident memory in MB."""
    import resource
    import tempfile
    import threading

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen([sys.executable, *args], cwd=REPO, env=ENV, stdout=out, stderr=err,
                                   text=True, preexec_fn=cap)
        killer = threading.Timer(timeout, process.kill)
        killer.start()
        _, status, usage = os.wait4(process.pid, 0)
        killer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(args, process.returncode, out.read(), err.read()), usage.ru_maxrss / 1024


def sparse_file(path: Path, head: bytes = b"", size: int = 2 * 10**9) -> Path:
    with open(path, "wb") as file:
        file.write(head)
        file.truncate(size)
    return path


@pytest.mark.parametrize("name, fragment", [("zero.png", "is a character device, not an image"),
                                            ("pipe.png", "is a FIFO (named pipe), not an image"),
                                            ("sparse.png", "not a readable PNG image (it does not start as any image does)"),
                                            ("tail.png", "far more than a 64x64 image needs")])
def test_a_device_a_fifo_or_a_huge_file_named_png_exits_2_at_once(tmp_path, weights, photo, name, fragment):
    path = tmp_path / name
    if name == "zero.png":
        path.symlink_to("/dev/zero")
    elif name == "pipe.png":
        os.mkfifo(path)
    else:
        sparse_file(path, photo.read_bytes() if name == "tail.png" else b"")
    args = ["--weights-dir", str(weights), "--model", "tiny_local_gauss", "--output", str(tmp_path / "out.png")]
    _, normal = run_measured("restore/denoise_image.py", "--input", str(photo), *args)
    (tmp_path / "out.png").unlink()
    started = time.monotonic()
    done, peak = run_measured("restore/denoise_image.py", "--input", str(path), *args, timeout=120)
    assert_one_error_line(done, fragment)
    assert time.monotonic() - started < 60 and peak < normal + 200, peak - normal
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("shape", [(3, 3, 3), (2, 2), (1, 2000, 3)])
def test_tiny_images_are_denoised(tmp_path, weights, shape):
    image = write_image(tmp_path / "tiny.png", np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8))
    done = run("restore/denoise_image.py", "--input", str(image), "--weights-dir", str(weights),
               "--model", "tiny_local_gauss")
    assert done.returncode == 0 and "sigma not estimated (image too small)" in done.stdout, done.stderr[-2000:]
    assert read_image(tmp_path / "tiny_denoised.png").pixels.shape == shape


def test_tiny_video_frames_need_a_sigma_or_are_denoised_with_one(tmp_path, weights, make_clip):
    clip = make_clip(tmp_path / "tiny.mp4", frames=5, size=(2, 2))
    args = ["restore/denoise_video.py", "--input", str(clip), "--output", str(tmp_path / "out.mp4"),
            "--weights-dir", str(weights), "--model", "tiny_video_skipat_gauss"]
    assert_one_error_line(run(*args), "a 2x2 picture is too small to estimate the noise level")
    assert not (tmp_path / "out.mp4").exists()
    done = run(*args, "--sigma", "20")
    assert done.returncode == 0 and (tmp_path / "out.mp4").is_file(), done.stderr[-2000:]


def test_pages_animations_and_float_tiffs_exit_2_in_one_line(tmp_path, weights):
    import tifffile
    from PIL import Image

    frames = [Image.fromarray(data.astronaut()[:32, shift:shift + 32]) for shift in (0, 8, 16)]
    frames[0].save(tmp_path / "pages.tif", save_all=True, append_images=frames[1:])
    frames[0].save(tmp_path / "moving.webp", save_all=True, append_images=frames[1:], duration=100, lossless=True)
    tifffile.imwrite(tmp_path / "float.tif", data.astronaut()[:32, :32].astype(np.float32) / 255, photometric="rgb")
    for name, fragment in [("pages.tif", "a multi-page TIFF of 3 pages"), ("moving.webp", "an animated WebP of 3 frames"),
                           ("float.tif", "holds 32-bit floating-point pixels")]:
        done = run("restore/denoise_image.py", "--input", str(tmp_path / name), "--weights-dir", str(weights),
                   "--model", "tiny_local_gauss")
        assert_one_error_line(done, fragment)
        assert "corrupt" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["float.tif", "moving.webp", "pages.tif"]


def test_a_camera_jpeg_keeps_its_metadata_its_suffix_and_gets_one_note(tmp_path, weights):
    from PIL import Image, ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Canon", "EOS R5", 6
    noisy = np.clip(data.chelsea()[:48, :64] + np.random.default_rng(0).normal(0, 18, (48, 64, 3)), 0, 255)
    source = tmp_path / "IMG_0001.jpg"
    Image.fromarray(noisy.astype(np.uint8)).save(source, quality=85, exif=exif.tobytes(), icc_profile=icc)
    before = source.read_bytes()
    (tmp_path / "out").mkdir()
    done = run("restore/denoise_image.py", "--input", str(source), "--format", "jpeg", "--output", str(tmp_path / "out"),
               "--weights-dir", str(weights), "--model", "tiny_local_gauss")
    assert done.returncode == 0, done.stderr[-2000:]
    notes = [line for line in done.stderr.splitlines() if line.startswith("note:")]
    assert notes == ["note: noise in JPEG photos is not Gaussian, so results may stay noisy"]
    sigma = float(done.stdout.split("sigma ~")[1].split()[0])
    assert sigma > 10  # it read 0.4 on such files
    with Image.open(tmp_path / "out" / "IMG_0001.jpg") as written:  # .jpg kept, not renamed .jpeg
        tags = written.getexif()
        assert (tags[0x010F], tags[0x0110], tags[0x0112]) == ("Canon", "EOS R5", 1)
        assert written.info["icc_profile"] == icc and written.size == (48, 64)
    assert source.read_bytes() == before


def test_a_16_bit_gray_alpha_png_comes_back_as_one(tmp_path, weights):
    rng = np.random.default_rng(0)
    gray = np.clip(128 * 257 + rng.normal(0, 20 * 257, (48, 64)), 0, 65535)
    alpha = np.tile(np.linspace(0, 65535, 64), (48, 1))
    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in np.dstack([gray, alpha]).round())
    source = tmp_path / "ga.png"
    source.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 48, 16, 4, 0, 0, 0))
                       + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b""))
    done = run("restore/denoise_image.py", "--input", str(source), "--weights-dir", str(weights),
               "--model", "tiny_local_gauss")
    assert done.returncode == 0, done.stderr[-2000:]
    assert 15 < float(done.stdout.split("sigma ~")[1].split()[0]) < 25  # it printed 0.0
    out = tmp_path / "ga_denoised.png"
    assert out.read_bytes()[24:26] == b"\x10\x04"  # 16 bits, gray + alpha
    assert np.array_equal(read_image(out).pixels[..., 1], read_image(source).pixels[..., 1])


def test_warnings_are_one_clean_line_each(tmp_path, weights):
    source = write_image(tmp_path / "logo.png", np.dstack([data.astronaut()[:32, :32], np.full((32, 32), 99, np.uint8)]))
    done = subprocess.run([sys.executable, "restore/denoise_image.py", "--input", str(source), "--format", "jpeg",
                           "--weights-dir", str(weights), "--model", "tiny_local_gauss"], cwd=REPO,
                          env={**ENV, "PYTHONWARNINGS": "default"}, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stderr.splitlines()
    assert f"warning: {tmp_path / 'logo_denoised.jpeg'}: JPEG has no alpha channel; the alpha channel was dropped" in lines
    assert not any("UserWarning" in line or "warnings.warn" in line for line in lines), done.stderr


# ----- weight cards and checkpoints ---------------------------------------------------------------

@pytest.mark.parametrize("change, fragment", [
    ({"config": {"embed_dim": 100000}}, "parameters"),
    ({"config": {"preset": "XXL"}}, "unknown Uformer preset 'XXL'"),
    ({"config": {"embd_dim": 16}}, "unexpected arguments: ['embd_dim']"),
    ({"noise": "gaussian"}, "noise must be dict"),
    ({"arch": ["Uformer"]}, "arch must be str"),
    ({"arch": "NoSuchNet"}, "is not a registered network"),
    ({"noise": {"type": "gaussian", "sigma": [0, "fifty"]}}, "sigma: [low, high]"),
    ({"config": {"embed_dim": 16.5}}, "config of Uformer: embed_dim must be a whole number, got 16.5"),
    ({"config": {"depths": [1, 1, 1, 1, 1.5, 1, 1, 1, 1]}}, "depths must be a list of whole numbers"),
    ({"notes": "x" * 2_000_000}, "more than the 1.05 MB allowed for a weight card"),
])
def test_malformed_weight_cards_exit_2(tmp_path, weights, photo, change, fragment):
    card = json.loads((weights / "tiny_uformer_gauss.json").read_text())
    shutil.copy(weights / card["weights"], tmp_path / card["weights"])
    bad = tmp_path / "tiny_uformer_gauss.json"
    bad.write_text(json.dumps({**card, **change}))
    done = run("restore/denoise_image.py", "--input", str(photo), "--model", str(bad), "--output",
               str(tmp_path / "out.png"))
    assert_one_error_line(done, fragment)
    assert not (tmp_path / "out.png").exists()


def test_a_deeply_nested_card_exits_2(tmp_path, photo):
    card = tmp_path / "deep.json"
    card.write_text("[" * 100_000 + "]" * 100_000)
    done = run("restore/denoise_image.py", "--input", str(photo), "--model", str(card))
    assert_one_error_line(done, "is nested too deeply to be a card")


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch /tmp/restore_pickle_ran",))


def test_a_malicious_pickle_never_runs(tmp_path, photo):
    Path("/tmp/restore_pickle_ran").unlink(missing_ok=True)
    checkpoint = tmp_path / "evil.pth"
    with open(checkpoint, "wb") as file:
        pickle.dump({"params": _Payload()}, file)
    (tmp_path / "evil.json").write_text(json.dumps({
        "format": "restore-weights-card/1", "name": "evil", "arch": "Uformer", "config": {"preset": "T"},
        "kind": "image", "noise": {"type": "gaussian", "sigma": [0, 50]}, "weights": "evil.pth",
        "sha256": __import__("hashlib").sha256(checkpoint.read_bytes()).hexdigest()}))
    done = run("restore/denoise_image.py", "--input", str(photo), "--model", str(tmp_path / "evil.json"))
    assert_one_error_line(done, "weights-only")
    assert not Path("/tmp/restore_pickle_ran").exists()


# ----- training options ----------------------------------------------------------------------------

def smoke_options(tmp_path: Path, name: str, **changes) -> Path:
    options = yaml.safe_load((REPO / "options/smoke/uformer_tiny.yml").read_text())
    options["name"] = name
    for path, value in changes.items():
        target = options
        *parents, last = path.split("__")
        for key in parents:
            target = target[key]
        target[last] = value
    file = tmp_path / "options.yml"
    file.write_text(yaml.safe_dump(options))
    return file


@pytest.mark.parametrize("changes, fragment", [
    ({"network_g__embd_dim": 8}, "unexpected arguments: ['embd_dim']"),
    ({"network_g__type": "NoSuchNet"}, "is not a registered network"),
    ({"train__total_iter": 0}, "total_iter must be a positive number"),
    ({"train__scheduler__total_iter": 10}, "shorter than total_iter"),
    ({"datasets__train__batch_size_per_gpu": 0}, "batch_size_per_gpu must be a whole number of at least 1, got 0"),
    ({"datasets__train__batch_size_per_gpu": -4}, "batch_size_per_gpu must be a whole number of at least 1, got -4"),
    ({"network_g": "UformerSkipAt"}, "network_g must be a mapping"),
    ({"datasets__val": ["a", "b"]}, "datasets must map each phase to a mapping"),
])
def test_bad_training_options_exit_2_before_any_folder_is_made(tmp_path, changes, fragment):
    name = f"hostile_{abs(hash(fragment)) % 10**8}"
    file = smoke_options(tmp_path, name, **changes)
    try:
        done = run(str(REPO / "restore/train.py"), "-opt", str(file), cwd=tmp_path)
        assert_one_error_line(done, fragment)
        assert not (REPO / "experiments" / name).exists() and not (REPO / "tb_logger" / name).exists()
    finally:
        shutil.rmtree(REPO / "experiments" / name, ignore_errors=True)
        shutil.rmtree(REPO / "tb_logger" / name, ignore_errors=True)


def test_force_yml_values_are_data_never_code(tmp_path):
    name = "hostile_force_yml"
    mark = tmp_path / "ran"
    file = smoke_options(tmp_path, name)
    payload = f'x=[__import__("os").system("touch {mark}")]'
    try:
        done = run(str(REPO / "restore/train.py"), "-opt", str(file), "--force_yml", payload,
                   f'datasets:train:type=NoSuchDataset"]=0;__import__("os").system("touch {mark}");x=["', cwd=tmp_path)
        assert not mark.exists(), "a --force_yml value ran as code"
        assert_one_error_line(done, "NoSuchDataset")  # the override reached BasicSR, as data
        assert not (REPO / "experiments" / name).exists()
    finally:
        shutil.rmtree(REPO / "experiments" / name, ignore_errors=True)
        shutil.rmtree(REPO / "tb_logger" / name, ignore_errors=True)


# ----- video --------------------------------------------------------------------------------------

def partials(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if ".partial" in p.name]


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_a_killed_video_run_leaves_no_partial_file(tmp_path, weights, how, make_clip):
    clip = make_clip(tmp_path / "clip.mp4", frames=60)
    out = tmp_path / "out"
    out.mkdir()
    args = ["restore/denoise_video.py", "--input", str(clip), "--output", str(out / "clean.mp4"),
            "--weights-dir", str(weights), "--model", "tiny_video_skipat_gauss", "--sigma", "30", "--tile", "32"]
    process = subprocess.Popen([sys.executable, *args], cwd=REPO, env=ENV, stderr=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not partials(out) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert partials(out), "the run never started writing"
    process.send_signal(getattr(signal, how))
    _, stderr = process.communicate(timeout=60)
    if how == "SIGTERM":
        assert process.returncode == 143 and "terminated: no output was written" in stderr
        assert "Traceback" not in stderr and list(out.iterdir()) == []
    else:  # nothing runs after kill -9: the next write of the same output removes the leftover
        assert partials(out) and str(process.pid) in partials(out)[0].name
        done = run(*args[:-2], "--tile", "64", "--clip-len", "3")
        assert done.returncode == 0, done.stderr[-2000:]
        assert [p.name for p in out.iterdir()] == ["clean.mp4"]


# ----- the app ------------------------------------------------------------------------------------

def resident_peak_mb(pid: int) -> float:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["VmHWM"].split()[0]) / 1024


@pytest.fixture(scope="module")
def app(tmp_path_factory, weights, running_app):
    work = tmp_path_factory.mktemp("work")
    options = ["--weights-dir", str(weights), "--max-image-mp", "16", "--max-upload-mb", "2", "--queue-size", "1",
               "--concurrency", "1"]
    with running_app(options, work, env=ENV) as (url, process):
        from gradio_client import Client

        yield url, Client(url, verbose=False), process, work


def predict_image(client, path: Path):
    from gradio_client import handle_file

    return client.predict(handle_file(str(path)), "tiny_uformer_skipat_gauss", 25, True, False, False,
                          api_name="/denoise_image")


def test_the_app_refuses_an_image_bomb_from_its_header(app, tmp_path):
    _, client, process, work = app
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb(13000, 13000, full=True))  # decodes to 507 MB
    assert bomb.stat().st_size < 2_000_000
    predict_image(client, write_image(tmp_path / "small.png", data.astronaut()[:64, :64]))  # warm
    Path(f"/proc/{process.pid}/clear_refs").write_text("5")  # reset the peak resident size
    before = resident_peak_mb(process.pid)
    with pytest.raises(Exception) as refused:
        predict_image(client, bomb)
    message = str(refused.value)
    assert "169 MP, more than the 16 MP allowed in this app" in message
    assert str(work) not in message and "/tmp" not in message  # no server path
    assert resident_peak_mb(process.pid) - before < 200


def test_the_app_refuses_corrupt_uploads_without_showing_server_paths(app, tmp_path):
    _, client, _, work = app
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    with pytest.raises(Exception) as refused:
        predict_image(client, corrupt)
    assert "corrupt.png" in str(refused.value) and str(work) not in str(refused.value)


def test_the_app_serves_no_file_outside_its_work_folder(app):
    url, _, _, _ = app
    for path in ("gradio_api/file=/etc/passwd", "gradio_api/file=../../../../etc/passwd",
                 f"gradio_api/file={REPO / 'README.md'}"):
        response = httpx.get(url + path, timeout=10)
        assert response.status_code in (403, 404) and "root:" not in response.text


def test_the_app_refuses_an_oversized_upload(app, tmp_path):
    url, _, _, _ = app
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * 1024 * 1024))  # over --max-upload-mb 2
    with open(big, "rb") as file:
        response = httpx.post(url + "gradio_api/upload", files={"files": ("big.png", file)}, timeout=30)
    assert response.status_code == 413


def test_the_app_sheds_load_when_its_queue_is_full(app, tmp_path, make_clip):
    _, client, _, _ = app
    from gradio_client import handle_file

    clip = make_clip(tmp_path / "clip.mp4", frames=30, size=(128, 96))
    jobs = [client.submit(handle_file(str(clip)), "tiny_video_skipat_gauss", 30, False, False, False,
                          api_name="/denoise_video") for _ in range(4)]
    outcomes = []
    for job in jobs:
        try:
            job.result(timeout=300)
            outcomes.append("done")
        except Exception as error:  # noqa: BLE001  (gradio_client raises its own types)
            outcomes.append(str(error))
    assert "done" in outcomes and any("queue is full" in outcome.lower() for outcome in outcomes), outcomes
