"""Start-up benchmark: how long each fast command takes to start and finish, against
``python -c pass``, in one run.

    .venv/bin/python bench/startup.py [--runs N]

Each command runs N times (default 7) in a fresh process with a fresh SQLite database in a
scratch folder (``prepare`` is given a small text file there); the median wall time is printed
with its difference from the interpreter's own start. Goal: each command within 0.3 s.

Omnicord runs as a user installs it: built into a scratch virtual environment whose
dependencies come from this checkout's ``.venv``, bytecode compiled. The checkout's own
editable install would add its import hook (20-30 ms) to every start, which no installed
program pays.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_SECONDS = 0.3
COMMANDS = (
    ["--help"],
    ["voices"],
    ["history", "bench"],
    ["reset", "bench"],
    ["prepare", "note.txt"],
    ["db", "status"],
)


def median_seconds(argv: list[str], env: dict[str, str], cwd: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=False)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def installed_python(scratch: Path) -> Path:
    """A virtual environment in ``scratch`` with Omnicord installed (not editable) and this
    interpreter's packages (the checkout's ``.venv``) as its dependencies."""
    venv = scratch / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path("
                           "'purelib'))"], check=True, capture_output=True, text=True)
    packages = Path(site.stdout.strip())
    dependencies = [p for p in sys.path if p.endswith("site-packages")]
    (packages / "omnicord-bench-dependencies.pth").write_text("\n".join(dependencies) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--target", str(packages), str(ROOT)], check=True)
    subprocess.run([str(python), "-m", "compileall", "-q", str(packages / "omnicord")],
                   check=True)
    return python


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="omnicord-startup-") as folder:
        cwd = Path(folder)
        (cwd / "note.txt").write_text("A short note to prepare.\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OMNICORD_", "DASHSCOPE_"))}
        env.update(OMNICORD_DB=str(cwd / "bench.db"), DASHSCOPE_API_KEY="sk-bench")
        env.pop("PYTHONPATH", None)
        python = str(installed_python(cwd))
        # As an installed program runs: with its bytecode cached (pip compiles a wheel's
        # modules when it installs them). Some machines set PYTHONDONTWRITEBYTECODE, which
        # would time Python's compiler on every start.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        for command in COMMANDS:  # one run each to fill the cache
            subprocess.run([python, "-m", "omnicord", *command], env=env, cwd=cwd,
                           capture_output=True, check=False)
        baseline = median_seconds([python, "-c", "pass"], env, cwd, args.runs)
        print(f"{'command':<26} {'median s':>9} {'over python':>12}")
        print(f"{'python -c pass':<26} {baseline:>9.3f} {'':>12}")
        slowest = 0.0
        for command in COMMANDS:
            seconds = median_seconds([python, "-m", "omnicord", *command], env, cwd,
                                     args.runs)
            slowest = max(slowest, seconds)
            print(f"{'omnicord ' + ' '.join(command):<26} {seconds:>9.3f}"
                  f" {seconds - baseline:>+11.3f}s")
    met = "met" if slowest <= GOAL_SECONDS else "not met"
    print(f"goal: every command within {GOAL_SECONDS} s: {met} (slowest {slowest:.3f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
