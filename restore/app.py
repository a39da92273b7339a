"""Gradio app: denoise images and videos in the browser.

    skipat-app [--host 127.0.0.1] [--port 7860] [--share] [--device cpu] [--weights-dir weights]
    python app.py ...          (the same, from the repository root)

Only widgets live here; the work is in ``restore.app_service``. Everything the
app reads or writes lives in one work folder (``--work-dir``, a fresh temporary
folder by default), which is also Gradio's upload cache.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
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
AUTO_LABEL = "Estimate σ from the input (auto)"


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
    parser.add_argument("--work-dir", type=Path, default=None, help="uploads and results (default: a new temp folder)")
    parser.add_argument("--tile", type=int, default=DEFAULT_TILE)
    parser.add_argument("--tile-overlap", type=int, default=DEFAULT_TILE_OVERLAP)
    parser.add_argument("--video-tile", type=int, default=DEFAULT_VIDEO_TILE,
                        help="spatial size of 7-frame video patches")
    parser.add_argument("--video-tile-overlap", type=int, default=DEFAULT_VIDEO_TILE_OVERLAP)
    parser.add_argument("--max-image-mp", type=float, default=APP_MAX_IMAGE_PIXELS / 1e6,
                        help="largest image, in megapixels (checked from the file header, before decoding)")
    parser.add_argument("--max-video-seconds", type=float, default=20.0)
    parser.add_argument("--max-upload-mb", type=int, default=100)
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


def build_app(catalog, limits, work_dir: Path, examples: list[Path]):
    """The Blocks UI over a ``ModelCatalog``; results go to ``work_dir/results``."""
    import gradio as gr

    from restore.app_service import denoise_image_file, denoise_video_file
    from restore.errors import RestoreError

    results_dir = work_dir / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    image_models, video_models = catalog.names("image"), catalog.names("video")
    # Open on a SkipAt model (one that names a registered baseline) when there is one.
    paired = [name for name in image_models if catalog.baseline_of(name)]
    first_image = (paired or image_models or [None])[0]

    def controls(name: str | None):
        """σ, auto and add-noise only for models that take σ; the baseline toggle only when a baseline is registered."""
        if not name:
            return (gr.update(visible=False),) * 4
        card = catalog.card(name)
        takes_sigma = card.noise_model.takes_sigma
        return (sigma_control(card), gr.update(visible=takes_sigma), gr.update(visible=takes_sigma),
                gr.update(visible=catalog.baseline_of(name) is not None))

    def run_image(path, model, sigma, auto, add_noise, with_baseline, progress=gr.Progress()):
        if not path:
            raise gr.Error("Upload an image or pick an example first.")
        if not model:
            raise gr.Error(f"No image model is registered in {catalog.weights_dir}.")
        out_dir = Path(tempfile.mkdtemp(dir=results_dir))
        try:
            chosen = "auto" if auto else sigma
            run = denoise_image_file(catalog, path, model, chosen, add_noise, out_dir, limits,
                                     progress=lambda f, text: progress(f, desc=text), noise_sigma=sigma)
            lines = [f"**{run.model}**: {run.seconds:.2f} s, {run.gmacs:.1f} GMACs (at 256×256); {run.sigma_note}"]
            baseline_view = gr.update(visible=False, value=None)
            baseline = catalog.baseline_of(model) if with_baseline else None
            if baseline:
                base = denoise_image_file(catalog, path, baseline, chosen, add_noise, out_dir, limits,
                                          progress=lambda f, text: progress(f, desc=text), noise_sigma=sigma)
                lines.append(f"**{base.model}** (baseline): {base.seconds:.2f} s, {base.gmacs:.1f} GMACs")
                lines.append(f"Speed-up over the baseline on this image: {base.seconds / run.seconds:.2f}× "
                             f"(time ratio); {100 * (1 - run.gmacs / base.gmacs):.1f}% fewer MACs")
                baseline_view = gr.update(visible=True, value=base.denoised)
        except RestoreError as error:
            raise gr.Error(str(error)) from None
        return (run.noisy, run.denoised), "\n\n".join(lines), str(run.download), baseline_view

    def run_video(path, model, sigma, auto, add_noise, with_baseline, progress=gr.Progress()):
        if not path:
            raise gr.Error("Upload a video first.")
        if not model:
            raise gr.Error(f"No video model is registered in {catalog.weights_dir}.")
        if Path(path).stat().st_size > limits.max_upload_mb * 1024 * 1024:
            raise gr.Error(f"The video is larger than {limits.max_upload_mb} MB.")
        out_dir = Path(tempfile.mkdtemp(dir=results_dir))
        chosen = "auto" if auto else sigma
        try:
            run = denoise_video_file(catalog, path, model, chosen, add_noise, out_dir, limits,
                                     progress=lambda f, text: progress(f, desc=text), noise_sigma=sigma)
            lines = [f"**{run.model}**: {run.frames} frames in {run.seconds:.1f} s "
                     f"({run.frames / run.seconds:.2f} frames/s), {catalog.gmacs(model):.1f} GMACs per frame "
                     f"(7×256×256); {run.sigma_note}"]
            baseline = catalog.baseline_of(model) if with_baseline else None
            if baseline:
                base = denoise_video_file(catalog, path, baseline, chosen, add_noise, out_dir, limits,
                                          progress=lambda f, text: progress(f, desc=text), noise_sigma=sigma)
                lines.append(f"**{base.model}** (baseline): {base.frames / base.seconds:.2f} frames/s, "
                             f"{catalog.gmacs(baseline):.1f} GMACs per frame")
                lines.append(f"Speed-up over the baseline on this video: {base.seconds / run.seconds:.2f}× "
                             f"(time ratio); {100 * (1 - catalog.gmacs(model) / catalog.gmacs(baseline)):.1f}% "
                             "fewer MACs")
        except RestoreError as error:
            raise gr.Error(str(error)) from None
        return str(run.video), str(run.preview), "\n\n".join(lines)

    with gr.Blocks(title="SkipAt denoising") as app:
        gr.Markdown("# SkipAt denoising\nUformer and UniFormer denoisers that reuse attention maps "
                    "(SkipAt) instead of computing them. Runs on "
                    f"{catalog.device}; large images are processed in tiles.")
        with gr.Tab("Image"):
            if not image_models:
                gr.Markdown(f"**No image model is registered in `{catalog.weights_dir}` yet.** "
                            "Publish one with `python -m restore.save_weights --register ...`.")
            with gr.Row():
                with gr.Column():
                    image_in = upload_path_image(label="Noisy image", sources=["upload", "clipboard"],
                                                 elem_id="image-input")
                    image_model = gr.Dropdown(image_models, value=first_image,
                                              label="Model", elem_id="image-model")
                    image_auto = gr.Checkbox(True, label=AUTO_LABEL, elem_id="image-sigma-auto")
                    image_sigma = gr.Slider(0, 50, value=25, step=1, label=SIGMA_LABEL,
                                            elem_id="image-sigma")
                    image_add = gr.Checkbox(False, label="Add Gaussian noise of this σ first (for clean photos)")
                    image_baseline = gr.Checkbox(False, label="Also run the baseline Uformer to compare speed")
                    image_run = gr.Button("Denoise image", variant="primary", elem_id="image-run")
                with gr.Column():
                    image_out = gr.ImageSlider(label="Before / after", type="numpy", format="png",
                                               elem_id="image-output")
                    image_stats = gr.Markdown(elem_id="image-stats")
                    image_file = gr.File(label="Download the result", elem_id="image-download")
                    baseline_out = gr.Image(label="Baseline result", visible=False, format="png")
            if examples:
                gr.Examples([[str(path)] for path in examples], inputs=[image_in],
                            label="Examples: real photos with Gaussian noise added")
            image_controls = [image_sigma, image_auto, image_add, image_baseline]
            image_model.change(controls, image_model, image_controls, api_visibility="private")
            app.load(controls, image_model, image_controls, api_visibility="private")
            image_run.click(run_image, [image_in, image_model, image_sigma, image_auto, image_add, image_baseline],
                            [image_out, image_stats, image_file, baseline_out], api_name="denoise_image")

        with gr.Tab("Video"):
            if not video_models:
                gr.Markdown(f"**No video model is registered in `{catalog.weights_dir}` yet.**")
            with gr.Row():
                with gr.Column():
                    video_in = gr.Video(label=f"Noisy video (up to {limits.max_video_seconds:g} s)",
                                        sources=["upload"], elem_id="video-input")
                    video_model = gr.Dropdown(video_models, value=video_models[0] if video_models else None,
                                              label="Model", elem_id="video-model")
                    video_auto = gr.Checkbox(True, label=AUTO_LABEL, elem_id="video-sigma-auto")
                    video_sigma = gr.Slider(0, 50, value=30, step=1, label=SIGMA_LABEL)
                    video_add = gr.Checkbox(False, label="Add Gaussian noise of this σ first (for clean videos)")
                    video_baseline = gr.Checkbox(False, label="Also run the baseline UniFormer to compare speed")
                    video_run = gr.Button("Denoise video", variant="primary", elem_id="video-run")
                with gr.Column():
                    video_out = gr.Video(label="Denoised (with the original audio)", elem_id="video-output")
                    video_side = gr.Video(label="Side by side: input | denoised", elem_id="video-preview")
                    video_stats = gr.Markdown()
            video_controls = [video_sigma, video_auto, video_add, video_baseline]
            video_model.change(controls, video_model, video_controls, api_visibility="private")
            app.load(controls, video_model, video_controls, api_visibility="private")
            video_run.click(run_video, [video_in, video_model, video_sigma, video_auto, video_add, video_baseline],
                            [video_out, video_side, video_stats], api_name="denoise_video")
    return app


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from restore.errors import run_cli

    return run_cli(lambda: serve(args), on_stop="the app stopped")


def serve(args: argparse.Namespace) -> int:
    work_dir = (args.work_dir or Path(tempfile.mkdtemp(prefix="restore-app-"))).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
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
                    max_upload_mb=args.max_upload_mb)
    # Examples are copied into the work folder so the app never serves a file from elsewhere.
    examples_dir = work_dir / "examples"
    examples_dir.mkdir(exist_ok=True)
    examples = [Path(shutil.copy(path, examples_dir)) for path in sorted(EXAMPLES_DIR.glob("*.png"))]

    app = build_app(catalog, limits, work_dir, examples)
    app.queue(default_concurrency_limit=args.concurrency, max_size=args.queue_size)
    print(f"models: {', '.join(catalog.names('image') + catalog.names('video')) or 'none registered'}; "
          f"work folder: {work_dir}", flush=True)
    # show_error=False: only our gr.Error messages reach the browser, never a raw exception
    # (which could carry a server path).
    app.launch(server_name=args.host, server_port=args.port, share=args.share, allowed_paths=[str(work_dir)],
               max_file_size=f"{args.max_upload_mb}mb", show_error=False, footer_links=["api"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
