"""The video benchmark's per-operator profile of one tile."""
import torch

from restore.archs.uniformer_video_arch import UniformerVideo, UniformerVideoSkipAt
from restore.benchmarks.video import main, profile_markdown, profile_tile

TINY = dict(embed_dim=8, enc_depths=(1, 1, 1, 2), dec_depths=(2, 1, 1, 1), bottleneck_depth=1,
            head_dim=16, drop_path_rate=0.0)
SDPA = "aten::_scaled_dot_product_flash_attention_for_cpu"


def test_profile_of_one_tile_names_where_each_model_spends_its_time(markdown_tables):
    threads = torch.get_num_threads()
    profiles = profile_tile({"uniformer": UniformerVideo, "skipat": UniformerVideoSkipAt}, TINY,
                            frames=3, tile=32, rounds=1, top=100)
    assert torch.get_num_threads() == threads  # one thread while profiling, then restored
    base, skip = profiles["uniformer"], profiles["skipat"]
    assert base["ms"] > 0 and skip["ms"] > 0
    # 2 encoder + 1 bottleneck + 2 decoder global blocks; SkipAt's decoder reuses the encoder's A
    # and its encoder keeps A instead of calling the fused kernel: only the bottleneck's is left
    assert base["ops"][SDPA]["calls"] == 5 and skip["ops"][SDPA]["calls"] == 1
    (table,) = markdown_tables(profile_markdown(profiles))
    rows = {row["operator"]: row for row in table}
    assert list(table[0]) == ["operator", "uniformer ms (calls)", "skipat ms (calls)"]
    assert rows[f"`{SDPA}`"]["uniformer ms (calls)"] == f"{base['ops'][SDPA]['ms']} (5)"
    assert rows["**whole tile**"] == {"operator": "**whole tile**", "uniformer ms (calls)": f"**{base['ms']}**",
                                      "skipat ms (calls)": f"**{skip['ms']}**"}


def test_profile_flag_prints_the_table(capsys, markdown_tables):
    assert main(["--profile", "--frames", "2", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    (table,) = markdown_tables(out)
    assert "1 thread" in out and table[-1]["operator"] == "**whole tile**"
