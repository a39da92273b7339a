"""A baseline video UniFormer started from a SkipAt one: every shared weight copied, and each
decoder block's query and key taken from the encoder block whose attention SkipAt reused."""
import torch
import yaml

from restore.archs.uniformer_video_arch import UniformerVideo, UniformerVideoSkipAt
from restore.io.checkpoints import read_state_dict, save_safetensors
from restore.scripts.baseline_from_skipat import main


def test_the_baseline_starts_from_the_skipat_weights(tmp_path, tiny_video):
    torch.manual_seed(0)
    skipat = UniformerVideoSkipAt(**tiny_video)
    save_safetensors(skipat.state_dict(), tmp_path / "skipat.safetensors")
    (tmp_path / "options.yml").write_text(yaml.safe_dump({"network_g": {"type": "UniformerVideoSkipAt", **tiny_video}}))
    assert main(["--skipat", str(tmp_path / "skipat.safetensors"), "--config", str(tmp_path / "options.yml"),
                 "--output", str(tmp_path / "base.safetensors")]) == 0
    base = UniformerVideo(**tiny_video)
    base.load_state_dict(read_state_dict(tmp_path / "base.safetensors"), strict=True)
    ours, theirs = base.state_dict(), skipat.state_dict()
    assert all(torch.equal(ours[key], value) for key, value in theirs.items() if key in ours)
    channels = tiny_video["embed_dim"] * 2 ** 3
    qkv, encoder = ours["decoders.0.0.attn.qkv.weight"], theirs["encoders.3.0.attn.qkv.weight"]
    assert torch.equal(qkv[:2 * channels], encoder[:2 * channels])
    assert torch.equal(qkv[2 * channels:], theirs["decoders.0.0.attn.v.weight"])
    clip = torch.rand(1, 7, 4, 32, 32)
    with torch.no_grad():
        assert base(clip).shape == skipat(clip).shape
