"""Every command that the README and docs/ show still runs as written: each program's
``--help`` works, every file a command names as part of the repository exists, and every
benchmark command (in code blocks or inline in the text) parses as typed."""
import importlib
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
REPO_PATHS = ("options/", "restore/", "weights/", "assets/")


def shell_commands(text: str) -> list[str]:
    """The commands in ```bash blocks, continuation lines joined and comments dropped."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def python_programs(command: str) -> list[str] | None:
    """``python X.py ...`` -> [X.py]; ``python -m pkg.mod ...`` -> [-m, pkg.mod]; else None."""
    words = shlex.split(command.replace("[", " ").replace("]", " ").replace("|", " "))
    while words and "=" in words[0] and not words[0].startswith("-"):  # OMP_NUM_THREADS=1 python ...
        words.pop(0)
    if not words or words[0] not in ("python", "python3"):
        return None
    return words[1:3] if words[1] == "-m" else words[1:2]


def inline_commands(text: str) -> list[str]:
    """``python ...`` commands quoted inline in the prose, line breaks inside the quotes joined."""
    return [" ".join(quoted.split()) for quoted in re.findall(r"`(python3? [^`]+)`", text)]


TEXTS = {doc.relative_to(REPO).as_posix(): doc.read_text(encoding="utf-8") for doc in DOCUMENTS}
COMMANDS = [(where, command) for where, text in TEXTS.items() for command in shell_commands(text)]
PROGRAMS = sorted({tuple(program) for _, command in COMMANDS if (program := python_programs(command))})
BENCHMARK_COMMANDS = sorted({(where, command) for where, text in TEXTS.items()
                             for command in [*shell_commands(text), *inline_commands(text)]
                             if " restore.benchmarks." in command
                             and not any(mark in command for mark in "[<>|&")})


def test_the_command_reader_finds_the_quick_start_programs():
    """The tests below run over what the reader finds: it must find the README's own programs."""
    assert {("restore/denoise_image.py",), ("restore/denoise_video.py",), ("app.py",)} <= set(PROGRAMS)


@pytest.mark.slow
@pytest.mark.parametrize("program", PROGRAMS, ids=" ".join)
def test_each_program_answers_help(program):
    done = subprocess.run([sys.executable, *program, "--help"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage" in done.stdout.lower()


@pytest.mark.parametrize("where, command", COMMANDS)
def test_repository_files_named_by_commands_exist(where, command):
    for word in shlex.split(command.replace("[", " ").replace("]", " ")):
        if word.startswith(REPO_PATHS) and "…" not in word and "*" not in word:
            path = word.split("=", 1)[-1].rstrip(",;")
            assert (REPO / path).exists(), f"{where}: `{command}` names {path}, which does not exist"


def test_the_documents_show_benchmark_commands():
    modules = {python_programs(command)[1] for _, command in BENCHMARK_COMMANDS}
    assert {"restore.benchmarks.quality", "restore.benchmarks.speed", "restore.benchmarks.video",
            "restore.benchmarks.still_shot"} <= modules


@pytest.mark.parametrize("where, command", BENCHMARK_COMMANDS)
def test_benchmark_commands_parse_as_typed(where, command):
    program = python_programs(command)
    words = shlex.split(command)
    module = importlib.import_module(program[1])
    try:
        module.parse_args(words[words.index(program[1]) + 1:])
    except SystemExit as error:
        pytest.fail(f"{where}: `{command}` does not parse (exit {error.code})")


def test_every_document_link_resolves():
    for doc in DOCUMENTS:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
            if not target.startswith(("http://", "https://")):
                assert (doc.parent / target).exists(), f"{doc.name} links to {target}, which does not exist"
