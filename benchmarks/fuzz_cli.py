"""Fuzz the command line with bad input: every run must exit 0, 1, 2 or 130, print no traceback, and print
strict JSON where ``--json`` was asked. Prints one line per input and a summary; exits 1 on a finding.

    python benchmarks/fuzz_cli.py            # ~70 inputs, about a minute on 2 cores
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
T51 = ["--n-agents", "4", "--coupling", "1", "--lr", "0.1", "--batch-size", "1", "--sigma2", "1", "--dim", "1",
       "--q", "0", "--strong-convexity", "1"]


def cases(tmp: Path) -> list[list[str]]:
    (tmp / "file").write_text("x")
    junk = tmp / "junk"
    junk.mkdir()
    (junk / "cases.sqlite").write_bytes(os.urandom(4096))
    bad_numbers = ["nan", "inf", "-inf", "1e309", "-1", "0", "abc", "", "1e-320", "9" * 400]
    out = [["bound", "thm5.1", *T51[:-2], "--strong-convexity", v] for v in bad_numbers]
    out += [["bound", "thm5.1", *T51[:2], "--coupling", v, *T51[4:], "--json"] for v in ("nan", "1e308", "-1e308")]
    out += [["bound", "nosuch"], ["bound", "thm5.1"], ["bound", "thm5.1", *T51, "--json", "--metric", "x"],
            ["bound", "stability", "--n-agents", "1e300", "--coupling", "1", "--lambda-max", "1", "--json"],
            ["bound", "--list", "--json"], ["bound", "thm5.1", *T51, "--bogus", "1"], ["bound", "thm3.1", "--coupling",
                                                                                       "1e308", "--lambda-max", "-1e308"]]
    hunt = ["hunt", "sgd", "--workers", "0"]
    out += [[*hunt, "--budget", v] for v in ("0", "-5", "1e20", str(10**20), "x")]
    out += [[*hunt, "--workers", "1000"], [*hunt, "--scheduler", "garbage"], [*hunt, "--scheduler", "tcp://127.0.0.1:1"],
            [*hunt, "--out", str(tmp / "file")], [*hunt, "--out", str(tmp / "file" / "sub")], [*hunt, "--out", ""],
            [*hunt, "--out", str(junk)], ["hunt", "nosuch"], [*hunt, "--replay", "{not json"],
            [*hunt, "--replay", '{"case": 1, "fidelity": {}}'], [*hunt, "--lr", "-1"], [*hunt, "--family", "x"],
            [*hunt, "--against", "sdp"], ["hunt", "lemma5.5", "--against", "sdp"], [*hunt, "--batch", "0"]]
    out += [["verify", "--only", "nosuch"], ["verify", "--device", "tpu"], ["verify", "--out", str(tmp / "file")],
            ["verify", "--workers", "100000"], ["verify", "--scheduler", "garbage"],
            ["verify", "--workers", "0", "--only", "sgd", "--out", str(junk)], ["verify", "--out", "/proc/x"]]
    out += [["simulate", "fig1", "--out", str(tmp / "sim"), "--sims", v] for v in ("0", "-1", "nan")]
    out += [["simulate", "nosuch"], ["simulate", "fig1", "--out", str(tmp / "file")],
            ["contraction", "certify", "--system", "nosuch"], ["contraction", "nosuch"], ["nosuch"], ["--bogus"]]
    point = ["--n-agents", "4", "--coupling", "1", "--lr", "1", "--strong-convexity", "0.5", "--smoothness", "2"]
    out += [["bracket", "thm5.1", *point, "--sigma2", v, "--json"] for v in ("1e300", "1e-300", "nan", "inf", "0")]
    out += [["bracket", "thm5.1", *point[:-1], "0.1", "--sigma2", "1"], ["bracket", "thm5.2", *point[:2], "--coupling",
            "0", *point[4:], "--sigma2", "1"], ["bracket", "thm5.3", *point, "--sigma2", "1"],
            ["bracket", "lemma3.1", *point, "--sigma2", "1"], ["bracket", "thm5.1", *point, "--sigma2", "1",
                                                                "--n-agents", "1e6"]]
    sdp_hunt = [*hunt, "--budget", "1"]
    out += [[*sdp_hunt, "--smoothness", "2"], ["hunt", "thm5.1", "--workers", "0", "--against", "sdp", "--smoothness",
                                                "0.1"], ["hunt", "thm5.1", "--workers", "0", "--against", "sdp",
                                                         "--smoothness", "2", "--curvature", "5"]]
    return out


def run(argv: list[str], cache: Path) -> tuple[list[str], int, str]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "QUORUMSGD_CACHE_DIR": str(cache)}
    try:
        done = subprocess.run([sys.executable, "-m", "quorumsgd.cli", *argv], capture_output=True, text=True,
                              env=env, timeout=120)
    except subprocess.TimeoutExpired:
        return argv, -1, "timed out after 120 s"
    problems = []
    if done.returncode not in (0, 1, 2, 130):
        problems.append(f"exit {done.returncode}")
    if "Traceback" in done.stderr or "Traceback" in done.stdout:
        problems.append("traceback: " + done.stderr.strip().splitlines()[-1][:120])
    if "--json" in argv and done.returncode in (0, 1):
        try:
            json.loads(done.stdout, parse_constant=lambda t: (_ for _ in ()).throw(ValueError(t)))
        except ValueError as err:
            problems.append(f"not strict JSON: {err}")
    last = (done.stderr.strip().splitlines() or [""])[-1][:110]
    return argv, done.returncode, "; ".join(problems) if problems else f"ok: {last}"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        inputs = cases(tmp)
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda a: run(a, tmp / "cache"), inputs))
    findings = [r for r in results if not r[2].startswith("ok")]
    for argv, code, what in results:
        print(f"[{code:>3}] quorumsgd {' '.join(a if a else repr(a) for a in argv)[:90]} -> {what}")
    print(f"{len(results)} inputs, {len(findings)} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
