"""Evaluate a trained denoiser and write its metrics (and, with val.save_img, its outputs).

    python restore/test.py -opt options/test/sidd_uformer_b_skipat.yml

Writes ``results/<name>/metrics.json`` ({dataset: {metric: mean}}) and a log beside it.
"""
import json
import logging
import sys
from pathlib import Path

from restore.errors import require_module

require_module("basicsr", "evaluation", "train")

from restore.models.options import run_entry  # noqa: E402  (needs basicsr)


def evaluate(root_path: str) -> dict:
    """BasicSR's test pipeline, keeping each dataset's metrics."""
    import torch
    from basicsr.data import build_dataloader, build_dataset
    from basicsr.models import build_model
    from basicsr.utils import get_env_info, get_root_logger, get_time_str, make_exp_dirs
    from basicsr.utils.options import dict2str

    from restore.models.basicsr_fixes import parse_options_repo_relative

    opt, _ = parse_options_repo_relative(root_path, is_train=False)
    torch.backends.cudnn.benchmark = True
    make_exp_dirs(opt)
    log_file = Path(opt["path"]["log"]) / f"test_{opt['name']}_{get_time_str()}.log"
    logger = get_root_logger(logger_name="basicsr", log_level=logging.INFO, log_file=str(log_file))
    logger.info(get_env_info())
    logger.info(dict2str(opt))
    loaders = []
    for _, dataset_opt in sorted(opt["datasets"].items()):
        dataset = build_dataset(dataset_opt)
        loaders.append(build_dataloader(dataset, dataset_opt, num_gpu=opt["num_gpu"], dist=opt["dist"],
                                        sampler=None, seed=opt["manual_seed"]))
        logger.info(f"Number of test images in {dataset_opt['name']}: {len(dataset)}")
    model = build_model(opt)
    results = {}
    for loader in loaders:
        name = loader.dataset.opt["name"]
        logger.info(f"Testing {name}...")
        model.validation(loader, current_iter=opt["name"], tb_logger=None,
                         save_img=opt["val"].get("save_img", False))
        if opt["val"].get("metrics"):
            results[name] = {metric: float(value) for metric, value in model.metric_results.items()}
    out = Path(opt["path"]["results_root"]) / "metrics.json"
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2))
    tmp.replace(out)
    logger.info(f"Metrics written to {out}")
    return results


if __name__ == "__main__":
    sys.exit(run_entry(evaluate, is_train=False))
