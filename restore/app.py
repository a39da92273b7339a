"""Gradio app: denoise images and videos in the browser.

    skipat-app [--host 127.0.0.1] [--port 7860] [--share] [--device cpu] [--weights-dir weights]
    python app.py ...          (the same, from the repository root)

Only widgets live here; the work is in ``restore.app_service``. Everything the
app reads or writes lives in one folder of its own (``restore-app-*``, made in
``--work-dir`` or the system's temporary folder), which is also Gradio's upload
cache: only the latest results are kept there, Gradio's copies for an hour, and
the folder is removed when the app stops (Ctrl-C, SIGTERM, SIGHUP), or by the next app
started on the same root if it was killed. The browser never sees the folder's path
(``restore.app_service``).
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from restore.inference.defaults import (  # no torch: --help stays instant
    APP_MAX_IMAGE_PIXELS,
    DEFAULT_TILE,
    DEFAULT_TILE_OVERLAP,
    DEFAULT_VIDEO_TILE,
    DEFAULT_VIDEO_TILE_OVERLAP,
    DEVICES,
    PRECISIONS,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_DIR = REPO_ROOT / "assets" / "examples"
SIGMA_LABEL = "Noise level σ (0–255 scale)"
AUTO_LABEL = "Estimate the noise level from the input"
# The two kinds of noise a user can tell apart, and the models that suit each
# (``NoiseModel.camera_photos``); shown when models of both kinds are registered.
CAMERA_PHOTO, SYNTHETIC = "Photo from a camera or phone", "Synthetic Gaussian noise"
# Gradio's toasts run across the top of a narrow screen, over the heading: there, they go to the
# bottom. A <style> in the page head, because Gradio scopes its css= rules to the app's body,
# where the toasts are not.
HEAD = ("<style>@media (max-width: 639px) "
        "{ .toast-wrap { top: auto !important; bottom: var(--size-3, 12px); } }</style>")
CACHE_CLEANING = (600, 3600)  # every 10 minutes, Gradio deletes its copies older than an hour


def sigma_matters(card, auto: bool, add_noise: bool) -> bool:
    """Whether the σ slider changes anything: as the noise to add first, or as the level told to a
    model with a noise-map input when it is not estimated. Blind models find the level themselves."""
    if not card.noise_model.takes_sigma:
        return False
    return add_noise or (card.noise_map_input and not auto)


def sigma_control(card) -> dict:
    """The σ slider's settings for a model: hidden for noise without a level, fixed for a one-σ model."""
    import gradio as gr

    if not card.noise_model.takes_sigma:
        return gr.update(visible=False)
    low, high = card.sigma_range
    if low < high:
        return gr.update(visible=True, interactive=True, minimum=low, maximum=high,
                         value=min(max(25, low), high), label=SIGMA_LABEL)
    # a slider needs minimum < maximum: show the one σ, not editable
    return gr.update(visible=True, interactive=False, minimum=0, maximum=max(50, high), value=high,
                     label=f"{SIGMA_LABEL}: this model was trained for σ = {high:g}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="SkipAt denoising in the browser.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0 for all)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    parser.add_argument("--device", default="cpu", choices=DEVICES)
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="auto: bf16 on CPUs with native bf16, fp16 on GPUs, else fp32")
    parser.add_argument("--weights-dir", type=Path, default=None,
                        help="folder with registry.json and weight cards (default: $RESTORE_WEIGHTS_DIR or weights/)")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="where the app makes its own folder for uploads and results, removed when it stops "
                             "(default: the system's temporary folder)")
    parser.add_argument("--tile", type=int, default=DEFAULT_TILE)
    parser.add_argument("--tile-overlap", type=int, default=DEFAULT_TILE_OVERLAP)
    parser.add_argument("--video-tile", type=int, default=DEFAULT_VIDEO_TILE,
                        help="spatial size of 7-frame video patches")
    parser.add_argument("--video-tile-overlap", type=int, default=DEFAULT_VIDEO_TILE_OVERLAP)
    parser.add_argument("--max-image-mp", type=float, default=APP_MAX_IMAGE_PIXELS / 1e6,
                        help="largest image, in megapixels (checked from the file header, before decoding)")
    parser.add_argument("--max-video-seconds", type=float, default=20.0)
    parser.add_argument("--max-upload-mb", type=int, default=100)
    parser.add_argument("--keep-results", type=int, default=8,
                        help="finished requests whose result files stay in the work folder")
    parser.add_argument("--concurrency", type=int, default=1, help="jobs run at once; the rest wait in the queue")
    parser.add_argument("--queue-size", type=int, default=16, help="waiting jobs before new ones are turned away")
    return parser.parse_args(argv)


def upload_path_image(**options):
    """An image upload that hands its file's path on unopened: Gradio's own check would decode
    or reject the file with a message carrying the server's path, where ours reads the header
    first and names only the file (``restore.io.image.read_image``). The instance's
    ``preprocess`` is replaced rather than subclassed: Gradio writes a stub file beside any
    module that defines a component subclass."""
    import gradio as gr

    image = gr.Image(type="filepath", image_mode=None, **options)
    default = image.preprocess

    def preprocess(payload):
        if payload is not None and payload.path is not None:
            return str(payload.path)
        return default(payload)  # pasted data: URLs

    image.preprocess = preprocess
    return image


def shown(error: Exception) -> str:
    """An error as the app shows it: one sentence, no server path."""
    from restore.app_service import without_paths

    message = without_paths(str(error))
    return message[:1].upper() + message[1:]


def noise_words(card, sigma: float | None, auto: bool, added: float | None, source: str) -> str:
    """The stats line's sentence about the noise, in plain words: what was added, and the level
    the model was told (estimated or set), or that it needs none."""
    words = f"Noise of level σ = {added:g} was added first. " if added is not None else ""
    if not card.noise_map_input:
        return words + f"This model needs no noise level; it was made for {card.noise_model.describe(card.noise)}."
    if auto:
        return words + f"Noise level estimated from the {source}: σ ≈ {sigma:.1f} (on a 0–255 scale)."
    return words + f"Noise level as set: σ = {sigma:g} (on a 0–255 scale)."


def models_by_kind(catalog) -> dict[str, list[str]]:
    """The image models for each of the two kinds of noise the app offers: camera and phone photos
    (camera or real noise), and synthetic Gaussian noise."""
    names = catalog.names("image")
    return {kind: [name for name in names if catalog.card(name).noise_model.camera_photos == camera]
            for kind, camera in ((CAMERA_PHOTO, True), (SYNTHETIC, False))}


def first_skipat(catalog, names: list[str]) -> str | None:
    """A SkipAt model (one that names a registered baseline) when there is one, else the first."""
    return ([name for name in names if catalog.baseline_of(name)] or names or [None])[0]


def build_app(catalog, limits, work_dir: Path, examples: list[Path]):
    """The Blocks UI over a ``ModelCatalog``; results go to ``work_dir/results``."""
    import gradio as gr

    from restore.app_service import (ResultFolders, denoise_image_file, denoise_video_file, load_image_upload,
                                     probe_video_upload)
    from restore.errors import RestoreError

    results = ResultFolders(work_dir / "results", keep=limits.keep_results)
    image_models, video_models = catalog.names("image"), catalog.names("video")
    by_kind = models_by_kind(catalog)
    both_kinds = all(by_kind.values())

    # Camera photos are what people bring; the examples say they are synthetic noise.
    first_kind = CAMERA_PHOTO if by_kind[CAMERA_PHOTO] else SYNTHETIC
    first_image = first_skipat(catalog, by_kind[first_kind] if both_kinds else image_models)
    hidden = gr.update(visible=False, value=None)

    def models_for(kind: str):
        """The model list for a kind of noise, opened on its first SkipAt model."""
        names = by_kind.get(kind) or image_models
        return gr.update(choices=names, value=first_skipat(catalog, names))

    def controls(name: str | None, auto: bool, add_noise: bool):
        """The σ slider where it matters, the estimate box for models with a noise-map input,
        add-noise for models that take σ, the baseline toggle when a baseline is registered."""
        if not name:
            return (gr.update(visible=False),) * 4
        card = catalog.card(name)
        takes_sigma = card.noise_model.takes_sigma
        add_noise = add_noise and takes_sigma
        slider = sigma_control(card)
        slider["visible"] = sigma_matters(card, auto, add_noise)
        return (slider, gr.update(visible=card.noise_map_input),
                gr.update(visible=takes_sigma, value=add_noise),
                gr.update(visible=catalog.baseline_of(name) is not None))

    def sigma_visibility(name: str | None, auto: bool, add_noise: bool):
        return gr.update(visible=bool(name) and sigma_matters(catalog.card(name), auto, add_noise))

    def refusal(path, probe) -> str | None:
        """Why an upload cannot be used (also shown as a warning), or None when ``probe`` accepts it."""
        try:
            probe(path, limits)
        except RestoreError as error:
            message = shown(error)
            gr.Warning(message)
            return message
        return None

    def check_image(path):
        """On upload: the last result is cleared, and a file that is no usable image is removed
        at once, with the reason, instead of showing as a broken picture. A usable one is handed
        back as it is: a ``gr.update`` would make Gradio rebuild the component for the session,
        without ``upload_path_image``'s own preprocess."""
        message = refusal(path, load_image_upload) if path else None
        return (None if message else path), None, message or "", None, hidden

    def check_video(path):
        message = refusal(path, probe_video_upload) if path else None
        return (None if message else path), None, None, message or ""

    def run_image(path, model, sigma, auto, add_noise, with_baseline, best=False, progress=gr.Progress()):
        if not path:
            raise gr.Error("Upload an image or pick an example first.")
        if not model:
            raise gr.Error("No image model is registered.")
        try:
            card, out_dir = catalog.card(model), results.new()
            chosen = "auto" if auto else sigma
            run = denoise_image_file(catalog, path, model, chosen, add_noise, out_dir, limits,
                                     progress=lambda f, text: progress(f, desc=text), noise_sigma=sigma,
                                     ensemble=bool(best))
            lines = [f"Denoised in {run.seconds:.2f} s with **{run.model}**"
                     + (", averaging 8 flipped and turned copies" if best else "") + ". "
                     + noise_words(card, run.sigma, auto, sigma if add_noise else None, "image")]
            if run.note:
                lines.append(run.note[0].upper() + run.note[1:])
            baseline_view = hidden
            baseline = catalog.baseline_of(model) if with_baseline else None
            if baseline:
                base = denoise_image_file(catalog, path, baseline, chosen, add_noise, out_dir, limits,
                                          progress=lambda f, text: progress(f, desc=text), noise_sigma=sigma,
                                          ensemble=bool(best))
                lines.append(f"The baseline **{base.model}** took {base.seconds:.2f} s: **{run.model}** was "
                             f"{base.seconds / run.seconds:.2f}× as fast on this image, with "
                             f"{100 * (1 - run.gmacs / base.gmacs):.1f}% less arithmetic.")
                baseline_view = gr.update(visible=True, value=base.denoised)
        except RestoreError as error:
            raise gr.Error(shown(error)) from None
        return (run.noisy, run.denoised), "\n\n".join(lines), str(run.download), baseline_view

    def run_video(path, model, sigma, auto, add_noise, with_baseline, progress=gr.Progress()):
        if not path:
            raise gr.Error("Upload a video first.")
        if not model:
            raise gr.Error("No video model is registered.")
        if Path(path).stat().st_size > limits.max_upload_mb * 1024 * 1024:
            raise gr.Error(f"The video is larger than {limits.max_upload_mb} MB.")
        chosen = "auto" if auto else sigma
        try:
            card, out_dir = catalog.card(model), results.new()
            run = denoise_video_file(catalog, path, model, chosen, add_noise, out_dir, limits,
                                     progress=lambda f, text: progress(f, desc=text), noise_sigma=sigma)
            lines = [f"Denoised {run.frames} frames in {run.seconds:.1f} s ({run.frames / run.seconds:.2f} "
                     f"frames a second) with **{run.model}**. "
                     + noise_words(card, run.sigma, auto, sigma if add_noise else None, "first frames")]
            if run.dropped:
                lines.append(f"Not kept in the result: {', '.join(run.dropped)}.")
            baseline = catalog.baseline_of(model) if with_baseline else None
            if baseline:
                base = denoise_video_file(catalog, path, baseline, chosen, add_noise, out_dir, limits,
                                          progress=lambda f, text: progress(f, desc=text), noise_sigma=sigma)
                lines.append(f"The baseline **{base.model}** ran at {base.frames / base.seconds:.2f} frames a "
                             f"second: **{run.model}** was {base.seconds / run.seconds:.2f}× as fast on this "
                             f"video, with {100 * (1 - catalog.gmacs(model) / catalog.gmacs(baseline)):.1f}% "
                             "less arithmetic.")
        except RestoreError as error:
            raise gr.Error(shown(error)) from None
        return str(run.video), str(run.preview), "\n\n".join(lines)

    with gr.Blocks(title="SkipAt denoising", delete_cache=CACHE_CLEANING) as app:
        gr.Markdown("# SkipAt denoising\nUformer and UniFormer denoisers that reuse attention maps "
                    "(SkipAt) instead of computing them. Runs on "
                    f"{catalog.device}; large images are processed in tiles.")
        with gr.Tab("Image"):
            if not image_models:
                gr.Markdown("**No image model is registered yet.** "
                            "Publish one with `python -m restore.save_weights --register ...`.")
            with gr.Row():
                with gr.Column():
                    image_in = upload_path_image(label="Noisy image", sources=["upload", "clipboard"],
                                                 elem_id="image-input")
                    image_kind = gr.Radio([CAMERA_PHOTO, SYNTHETIC], value=first_kind, visible=both_kinds,
                                          label="What is the noise?", elem_id="image-noise-kind")
                    # The list shows the chosen kind's models; the API takes any registered one
                    # (allow_custom_value: Gradio would check names against the first list only).
                    image_model = gr.Dropdown(by_kind[first_kind] if both_kinds else image_models,
                                              value=first_image, label="Model", elem_id="image-model",
                                              allow_custom_value=both_kinds)
                    image_auto = gr.Checkbox(True, label=AUTO_LABEL, elem_id="image-sigma-auto")
                    image_add = gr.Checkbox(False, label="Add Gaussian noise of this σ first (for clean photos)",
                                            elem_id="image-add-noise")
                    image_sigma = gr.Slider(0, 50, value=25, step=1, label=SIGMA_LABEL,
                                            elem_id="image-sigma")
                    image_baseline = gr.Checkbox(False, label="Also run the baseline Uformer to compare speed")
                    image_best = gr.Checkbox(False, label="Best quality: average 8 flipped and turned copies "
                                             "(8× slower)", elem_id="image-best")
                    image_run = gr.Button("Denoise image", variant="primary", elem_id="image-run")
                with gr.Column():
                    image_out = gr.ImageSlider(label="Before / after", type="numpy", format="png",
                                               elem_id="image-output")
                    image_stats = gr.Markdown(elem_id="image-stats")
                    image_file = gr.File(label="Download the result", elem_id="image-download")
                    baseline_out = gr.Image(label="Baseline result", visible=False, format="png")
            if examples:  # picking one also picks the kind of noise it has
                gr.Examples([[str(path), SYNTHETIC][:1 + both_kinds] for path in examples],
                            inputs=[image_in, image_kind][:1 + both_kinds],
                            label="Examples: real photos with Gaussian noise added")
            image_controls = [image_sigma, image_auto, image_add, image_baseline]
            image_choices = [image_model, image_auto, image_add]
            image_results = [image_out, image_stats, image_file, baseline_out]
            image_kind.change(models_for, image_kind, image_model, api_visibility="private")
            image_model.change(controls, image_choices, image_controls, api_visibility="private")
            app.load(controls, image_choices, image_controls, api_visibility="private")
            for box in (image_auto, image_add):
                box.change(sigma_visibility, image_choices, image_sigma, api_visibility="private")
            image_in.upload(check_image, image_in, [image_in, *image_results], api_name="check_image",
                            api_visibility="undocumented", concurrency_id="checks", concurrency_limit=4)
            # Stale results go first, so an error never sits under the last image's result.
            image_run.click(lambda: (None, "", None, hidden), None, image_results, queue=False,
                            api_visibility="private").then(
                run_image, [image_in, image_model, image_sigma, image_auto, image_add, image_baseline, image_best],
                image_results, api_name="denoise_image")

        with gr.Tab("Video"):
            if not video_models:
                gr.Markdown("**No video model is registered yet.**")
            with gr.Row():
                with gr.Column():
                    video_in = gr.Video(label=f"Noisy video (up to {limits.max_video_seconds:g} s)",
                                        sources=["upload"], elem_id="video-input")
                    video_model = gr.Dropdown(video_models, value=video_models[0] if video_models else None,
                                              label="Model", elem_id="video-model")
                    video_auto = gr.Checkbox(True, label=AUTO_LABEL, elem_id="video-sigma-auto")
                    video_add = gr.Checkbox(False, label="Add Gaussian noise of this σ first (for clean videos)")
                    video_sigma = gr.Slider(0, 50, value=30, step=1, label=SIGMA_LABEL, elem_id="video-sigma")
                    video_baseline = gr.Checkbox(False, label="Also run the baseline UniFormer to compare speed")
                    video_run = gr.Button("Denoise video", variant="primary", elem_id="video-run")
                with gr.Column():
                    video_out = gr.Video(label="Denoised (with the original audio)", elem_id="video-output")
                    video_side = gr.Video(label="Side by side: input | denoised", elem_id="video-preview")
                    video_stats = gr.Markdown(elem_id="video-stats")
            video_controls = [video_sigma, video_auto, video_add, video_baseline]
            video_choices = [video_model, video_auto, video_add]
            video_results = [video_out, video_side, video_stats]
            video_model.change(controls, video_choices, video_controls, api_visibility="private")
            app.load(controls, video_choices, video_controls, api_visibility="private")
            for box in (video_auto, video_add):
                box.change(sigma_visibility, video_choices, video_sigma, api_visibility="private")
            video_in.upload(check_video, video_in, [video_in, *video_results], api_name="check_video",
                            api_visibility="undocumented", concurrency_id="checks", concurrency_limit=4)
            video_run.click(lambda: (None, None, ""), None, video_results, queue=False,
                            api_visibility="private").then(
                run_video, [video_in, video_model, video_sigma, video_auto, video_add, video_baseline],
                video_results, api_name="denoise_video")
    return app


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from restore.errors import run_cli

    return run_cli(lambda: serve(args), on_stop="the app stopped")


def serve(args: argparse.Namespace) -> int:
    from restore.errors import Terminated

    def hang_up(signum: int, frame: object) -> None:
        raise Terminated()  # a closed terminal stops the app as SIGTERM does: through the cleanup

    signal.signal(signal.SIGHUP, hang_up)
    root = (args.work_dir or Path(tempfile.gettempdir())).resolve()
    root.mkdir(parents=True, exist_ok=True)
    from restore.app_service import claim_work_folder, remove_orphaned_work_folders

    for folder in remove_orphaned_work_folders(root):  # left by an app that was killed
        print(f"removed {folder}, the work folder of an app that is no longer running", flush=True)
    work_dir = Path(tempfile.mkdtemp(prefix="restore-app-", dir=root))
    try:
        claim_work_folder(work_dir)
        run_app(args, work_dir)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return 0


def run_app(args: argparse.Namespace, work_dir: Path) -> None:
    """Serve until stopped; the caller removes ``work_dir`` afterwards."""
    import importlib.util

    from restore.errors import MissingDependency

    if importlib.util.find_spec("gradio") is None:  # found, not imported: see GRADIO_TEMP_DIR below
        raise MissingDependency("the app needs gradio: pip install 'skipat-denoise[app]', "
                                "or pip install -r requirements.txt in a checkout")
    # Gradio's upload cache is read from the environment at import time: set it first.
    os.environ["GRADIO_TEMP_DIR"] = str(work_dir / "uploads")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    # Pillow's own decompression-bomb error would reach the user with the server's upload
    # path in it; our limit is checked from the header instead (restore.io.image.read_image).
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None

    from restore.api import default_weights_dir
    from restore.app_service import Limits, ModelCatalog
    from restore.inference.precision import resolve_device

    device = str(resolve_device(args.device))
    catalog = ModelCatalog(args.weights_dir or default_weights_dir(), device=device, precision=args.precision,
                           tile=args.tile, tile_overlap=args.tile_overlap, video_tile=args.video_tile,
                           video_tile_overlap=args.video_tile_overlap)
    limits = Limits(max_image_pixels=int(args.max_image_mp * 1e6), max_video_seconds=args.max_video_seconds,
                    max_upload_mb=args.max_upload_mb, keep_results=args.keep_results)
    # Examples are copied into the work folder so the app never serves a file from elsewhere.
    examples_dir = work_dir / "examples"
    examples_dir.mkdir(exist_ok=True)
    examples = [Path(shutil.copy(path, examples_dir)) for path in sorted(EXAMPLES_DIR.glob("*.png"))]

    app = build_app(catalog, limits, work_dir, examples)
    app.queue(default_concurrency_limit=args.concurrency, max_size=args.queue_size)
    print(f"models: {', '.join(catalog.names('image') + catalog.names('video')) or 'none registered'}; "
          f"work folder: {work_dir} (removed when the app stops)", flush=True)
    # show_error=False: only our gr.Error messages reach the browser, never a raw exception
    # (which could carry a server path). quiet: Gradio's own hint names launch(share=True).
    # HideWorkFolder: Gradio's file payloads (uploads, results, /config, the page) name the work
    # folder as "@work", never the server path.
    from starlette.middleware import Middleware

    from restore.app_service import HideWorkFolder

    app.launch(server_name=args.host, server_port=args.port, share=args.share, allowed_paths=[str(work_dir)],
               app_kwargs={"middleware": [Middleware(HideWorkFolder, work_dir=work_dir)]},
               max_file_size=f"{args.max_upload_mb}mb", show_error=False, footer_links=["api"], head=HEAD,
               quiet=True, prevent_thread_lock=True)
    print(f"* Running on local URL:  {app.local_url}", flush=True)
    print(f"* Public URL: {app.share_url}" if app.share_url else
          "* For a public gradio.live link, start the app with --share.", flush=True)
    try:
        while True:  # Ctrl-C, SIGTERM and SIGHUP end this loop with an exception
            time.sleep(0.5)
    finally:
        app.close()


if __name__ == "__main__":
    sys.exit(main())
