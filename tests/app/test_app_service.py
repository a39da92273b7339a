"""The app's work without Gradio: messages never name a server path, and only the latest results stay."""
import os
import time

from restore.app_service import ResultFolders, without_paths


def test_messages_keep_only_the_last_part_of_any_absolute_path():
    assert without_paths("could not write /tmp/restore-app-x/results/tmpab/out.mp4: the disk is full") == (
        "could not write out.mp4: the disk is full")
    assert without_paths("model 'm': /srv/weights/m.safetensors has sha256 00") == (
        "model 'm': m.safetensors has sha256 00")
    assert without_paths("'/tmp/x/photo.png': not a readable PNG") == "'photo.png': not a readable PNG"
    for kept in ("12.5 frames/s", "1/17 of its time", "see http://127.0.0.1:7860/gradio_api/", "σ 0–50"):
        assert without_paths(kept) == kept


def test_a_new_result_folder_removes_all_but_the_latest_finished_ones(tmp_path):
    results = ResultFolders(tmp_path / "results", keep=2)
    made = []
    for index in range(5):
        made.append(results.new())
        os.utime(made[-1], (time.time() + index, time.time() + index))  # distinct, increasing times
    assert sorted(tmp_path.joinpath("results").iterdir()) == sorted(made[-3:])


def test_a_jpeg_for_a_gaussian_model_gets_the_note_and_a_png_none(tmp_path, publish_local):
    import cv2
    from skimage import data

    from restore.api import JPEG_NOTE
    from restore.app_service import Limits, ModelCatalog, denoise_image_file

    publish_local(tmp_path / "weights")
    catalog = ModelCatalog(tmp_path / "weights")
    photo = data.astronaut()[:64, :64, ::-1]
    cv2.imwrite(str(tmp_path / "photo.jpg"), photo)
    cv2.imwrite(str(tmp_path / "photo.png"), photo)
    out = tmp_path / "out"
    out.mkdir()
    jpeg = denoise_image_file(catalog, tmp_path / "photo.jpg", "tiny_local_gauss", "auto", False, out, Limits())
    png = denoise_image_file(catalog, tmp_path / "photo.png", "tiny_local_gauss", "auto", False, out, Limits())
    assert jpeg.note == JPEG_NOTE and png.note is None
    # with a camera-noise model registered beside it, the note names that model
    publish_local(tmp_path / "weights", name="tiny_local_camera", noise={"type": "camera"})
    catalog = ModelCatalog(tmp_path / "weights")
    jpeg = denoise_image_file(catalog, tmp_path / "photo.jpg", "tiny_local_gauss", "auto", False, out, Limits())
    assert jpeg.note == JPEG_NOTE + "; tiny_local_camera, made for photos from a camera or phone, suits them better"
    camera = denoise_image_file(catalog, tmp_path / "photo.jpg", "tiny_local_camera", None, False, out, Limits())
    assert camera.note is None and camera.sigma is None


def test_without_gradio_the_app_is_one_error_line_and_leaves_no_folder(tmp_path):
    import subprocess
    import sys

    code = ("import sys; sys.modules['gradio'] = None; from restore.app import main; "
            f"sys.exit(main(['--work-dir', {str(tmp_path)!r}]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("error: the app needs gradio: pip install")
    assert list(tmp_path.iterdir()) == []


def test_the_apps_two_kinds_of_noise_map_to_the_right_models(tmp_path, publish_local, publish_uformer_pair):
    from restore.app import CAMERA_PHOTO, SYNTHETIC, first_skipat, models_by_kind
    from restore.app_service import ModelCatalog

    weights = tmp_path / "weights"
    publish_uformer_pair(weights)
    publish_local(weights, name="tiny_local_camera", noise={"type": "camera"})
    publish_local(weights, name="tiny_local_real", noise={"type": "real", "dataset": "SIDD"})
    catalog = ModelCatalog(weights)
    kinds = models_by_kind(catalog)
    assert kinds == {CAMERA_PHOTO: ["tiny_local_camera", "tiny_local_real"],
                     SYNTHETIC: ["tiny_uformer_gauss", "tiny_uformer_skipat_gauss"]}
    assert first_skipat(catalog, kinds[SYNTHETIC]) == "tiny_uformer_skipat_gauss"  # the one naming a baseline
    assert first_skipat(catalog, kinds[CAMERA_PHOTO]) == "tiny_local_camera" and first_skipat(catalog, []) is None
