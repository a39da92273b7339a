"""Denoise a video (or a folder of frames) from the shell, streaming, with tiles.

    python restore/denoise_video.py --input clip.mp4                  # sigma estimated from the first frames
    python restore/denoise_video.py --input clip.mp4 --sigma 30
    python restore/denoise_video.py --input clip.mp4 --output clean.mp4 --model NAME_OR_CARD.json \
        [--device auto|cpu|cuda|mps] [--precision auto|fp32|bf16|fp16] [--tile 128 --tile-overlap 10] \
        [--clip-len 7 --clip-overlap 2]
    python restore/denoise_video.py --frames-dir DAVIS/JPEGImages/480p/bear --sigma 30   # -> bear_denoised/

The output keeps the input's resolution, frame rate and timestamps (variable
frame rates included), frame count, rotation, and its audio and subtitle streams
with their languages (a line names any stream the output container cannot
hold); it is written to a temporary file and moved into place at the end
(Ctrl-C and SIGTERM remove it). Exit codes: 0 written; 2 bad input
(missing/corrupt file, not a video, sigma out of range, unknown model, bad
option, unwritable folder); 1 an unexpected failure.
"""
from __future__ import annotations

import argparse
import sys
from collections import deque
from fractions import Fraction
from pathlib import Path

from restore.denoise_image import sigma_arg
from restore.inference.defaults import (  # no torch: --help stays instant
    DEFAULT_CLIP_LEN,
    DEFAULT_CLIP_OVERLAP,
    DEFAULT_VIDEO_MODEL,
    DEFAULT_VIDEO_TILE,
    DEFAULT_VIDEO_TILE_OVERLAP,
    DEVICES,
    PRECISIONS,
)
from restore.io.formats import VIDEO_SUFFIXES


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Denoise a video with a UniFormer(+SkipAt) MIMO network.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", type=Path, help="a video file (mp4, mkv, mov, avi, webm)")
    source.add_argument("--frames-dir", type=Path, help="a folder of frame images instead of a video")
    parser.add_argument("--output", type=Path, help="output video (or frames folder); default: "
                                                    "<name>_denoised beside the input")
    parser.add_argument("--sigma", type=sigma_arg, default="auto",
                        help="noise level σ on the 0-255 scale (Gaussian noise), or 'auto' (default): estimated "
                             "once from the first frames and printed")
    parser.add_argument("--model", default=DEFAULT_VIDEO_MODEL,
                        help=f"a name in weights/ or a .json card / weight file / .onnx (default: {DEFAULT_VIDEO_MODEL})")
    parser.add_argument("--weights-dir", type=Path, help="weights folder with registry.json (default: weights/)")
    parser.add_argument("--device", default="auto", choices=DEVICES)
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="auto: bf16 on CPUs with native bf16, fp16 on GPUs, else fp32")
    parser.add_argument("--tile", type=int, default=DEFAULT_VIDEO_TILE, help="spatial tile size in pixels (paper: 128)")
    parser.add_argument("--tile-overlap", type=int, default=DEFAULT_VIDEO_TILE_OVERLAP,
                        help="spatial tile overlap in pixels (paper: 10)")
    parser.add_argument("--clip-len", type=int, default=DEFAULT_CLIP_LEN, help="frames per network call (MIMO; paper: 7)")
    parser.add_argument("--clip-overlap", type=int, default=DEFAULT_CLIP_OVERLAP,
                        help="frames shared by neighbouring clips")
    parser.add_argument("--tile-batch", type=int, default=1, help="tiles per network call (more is faster on GPU)")
    parser.add_argument("--fps", type=float, default=25.0, help="frame rate when writing a video from --frames-dir")
    parser.add_argument("--crf", type=int, default=18, help="H.264 quality of the output (lower = better)")
    return parser.parse_args(argv)


def check_options(args: argparse.Namespace) -> None:
    """Problems with the options alone, before anything is opened."""
    from restore.errors import RestoreError

    if args.tile < 8 or not 0 <= args.tile_overlap < args.tile:
        raise RestoreError(f"need --tile >= 8 and 0 <= --tile-overlap < --tile, got {args.tile}, {args.tile_overlap}")
    if args.clip_len < 1 or not 0 <= args.clip_overlap < args.clip_len:
        raise RestoreError(f"need --clip-len >= 1 and 0 <= --clip-overlap < --clip-len, got "
                         f"{args.clip_len}, {args.clip_overlap}")
    if args.tile_batch < 1 or args.fps <= 0 or not 0 <= args.crf <= 51:
        raise RestoreError("need --tile-batch >= 1, --fps > 0 and --crf in [0, 51]")


def load_model(args: argparse.Namespace):
    """The Denoiser for ``--model``; it must be a video model that accepts ``--sigma``."""
    from restore.api import Denoiser
    from restore.errors import WeightsError

    # --tile is the video tile (stream_video fits it to an exported model); a cascade's image stage
    # tiles frames with the image defaults
    denoiser = Denoiser.from_pretrained(args.model, weights_dir=args.weights_dir, device=args.device,
                                        precision=args.precision)
    if denoiser.kind != "video":
        raise WeightsError(f"model {denoiser.name!r} is an image model; use restore/denoise_image.py "
                         "or pick a video model")
    return denoiser


def open_source(args: argparse.Namespace):
    """(frames iterator, frame count or None, writer factory, output path) for the chosen input."""
    from restore.io.video import (VideoWriter, check_output_path, default_output_path, probe_video,
                                  read_video)
    from restore.errors import RestoreError
    from restore.io.image import check_writable
    from restore.io.video_frame_folder import FrameFolderWriter, frame_size, list_frames, read_frame

    if args.frames_dir is not None:
        paths = list_frames(args.frames_dir)
        folder = args.frames_dir.resolve()
        output = args.output or folder.with_name(f"{folder.name}_denoised")
        width, height = frame_size(paths)
        frames = (read_frame(path) for path in paths)
        if output.suffix.lower() in VIDEO_SUFFIXES:
            check_output_path(output, [])
            fps = Fraction(args.fps).limit_denominator(1001)
            return frames, len(paths), lambda: VideoWriter(output, width, height, fps, crf=args.crf), output, None
        if output.resolve() == folder:
            raise RestoreError("output folder is the input folder; choose another --output")
        check_writable(output.parent)
        return frames, len(paths), lambda: FrameFolderWriter(output, [p.name for p in paths]), output, None

    info = probe_video(args.input)
    output = args.output or default_output_path(args.input)
    check_output_path(output, [args.input])
    if output.exists() and not output.is_file():
        raise RestoreError(f"output {output} exists and is not a file")
    pts_queue: deque[int | None] = deque()  # output order is input order: pop as frames leave

    def frames():
        for decoded in read_video(args.input):
            pts_queue.append(decoded.pts)
            yield decoded.image

    return frames(), info.frame_count, lambda: VideoWriter.like(output, info, crf=args.crf), output, pts_queue


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from restore.io.video import VideoError

    check_options(args)
    frames, total, make_writer, output, pts_queue = open_source(args)
    denoiser = load_model(args)
    frames, sigma, note = denoiser.peek_sigma(frames, args.sigma)
    print(f"{denoiser.name} ({denoiser.precision}): {note}", flush=True)
    stream = denoiser.stream_video(frames, sigma, tile=args.tile, tile_overlap=args.tile_overlap,
                                   clip_len=args.clip_len, clip_overlap=args.clip_overlap, tile_batch=args.tile_batch)
    with make_writer() as writer:
        if writer.dropped:
            print(f"note: not copied to the output: {', '.join(writer.dropped)}", flush=True)
        for frame in tqdm(stream, total=total, unit="frame", desc=f"denoise {denoiser.name}"):
            writer.write(frame, None if pts_queue is None else pts_queue.popleft())
        if pts_queue is not None and total is not None and writer.frames != total:
            raise VideoError(f"{args.input}: decoded {writer.frames} frames but its header promises {total}; "
                             "the file looks truncated or corrupt, so no output was written")
    print(f"wrote {writer.frames} frames to {output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from restore.errors import run_cli

    return run_cli(lambda: run(args), on_stop="no output was written")


if __name__ == "__main__":
    sys.exit(main())
