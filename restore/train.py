"""Train a denoiser with BasicSR's own training loop.

    python restore/train.py -opt options/sidd_uformer_b_skipat.yml [--auto_resume] [--debug]
    torchrun --nproc_per_node=N restore/train.py -opt FILE.yml --launcher pytorch

Any registered arch, model and dataset can be named in the option file.
"""
import sys

from restore.errors import require_module

require_module("basicsr", "training", "train")

from restore.models.options import run_entry  # noqa: E402  (needs basicsr)


def train(root_path: str) -> None:
    from basicsr.train import train_pipeline
    train_pipeline(root_path)


if __name__ == "__main__":
    sys.exit(run_entry(train, is_train=True))
