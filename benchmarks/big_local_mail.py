"""Memory of ``mentorbox triage`` on one huge message: a single .eml, and an mbox holding it between two others.

Run:  python benchmarks/big_local_mail.py [--mb 200] [--format jsonl|table]
Writes a PhD application with a ``--mb`` MB "CV" attachment (random bytes, base64 in 76-column lines) as an .eml
and inside an mbox, trains the classifier in a throw-away directory first (not counted), then runs
``mentorbox triage`` on each and prints its wall time and peak resident memory (VmHWM, sampled every 5 ms:
ru_maxrss would count this script's own memory, which a forked child starts with). The daemon reads at most
``imap.max_message_bytes`` of a message; triage applies the same bound.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from big_mail import application  # noqa: E402  (this folder is on the path of a script run from it)
from imap_backlog import hwm_kb  # noqa: E402


def measure(command: list[str], env: dict[str, str]) -> tuple[int, float, int, str]:
    """Exit code, seconds and peak RSS (MB) of one run of ``command``, and the last line of its stderr."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, hwm_kb(proc.pid))
            time.sleep(0.005)
        err.seek(0)
        last = (err.read().decode(errors="replace").strip().splitlines() or [""])[-1]
    return proc.returncode, time.perf_counter() - started, peak // 1024, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=200.0, help="size of the big message")
    parser.add_argument("--format", choices=("jsonl", "table"), default="jsonl")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mbxlocal"))
    try:
        attachment = base64.encodebytes(os.urandom(int(args.mb * 1e6 * 3 / 4))).replace(b"\n", b"\r\n")
        big = application(0, attachment)
        del attachment
        eml = work / "big.eml"
        eml.write_bytes(big)
        mbox = work / "big.mbox"
        with mbox.open("wb") as fh:
            for i, message in enumerate((application(1, b"c21hbGw=\r\n"), big, application(2, b"c21hbGw=\r\n"))):
                fh.write(f"From applicant{i}@uni.example Tue Dec  1 10:00:00 2026\n".encode())
                fh.write(message.replace(b"\r\n", b"\n") + b"\n")
        del big
        config = work / "config.toml"
        config.write_text(f'[owner]\nname = "Kai Andersen"\naddress = "kai@andersen.dk"\n'
                          f'[store]\npath = "{work / "state.sqlite3"}"\n[classifier]\nmodel_dir = "{work / "model"}"\n')
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-m", "bot.cli"]
        # The classifier and the FAQ topic model, built before measuring (a first triage builds them once).
        subprocess.run([*command, "triage", str(ROOT / "examples" / "sample.mbox"), "--config", str(config),
                        "--format", "jsonl"], env=env, cwd=ROOT, check=True, capture_output=True)
        for source in (eml, mbox):
            code, seconds, peak, last = measure(
                [*command, "triage", str(source), "--config", str(config), "--format", args.format], env)
            print(f"triage {source.name} ({source.stat().st_size / 1e6:.0f} MB, --format {args.format}): exit {code}, "
                  f"{seconds:.1f} s, peak RSS {peak} MB" + (f" ({last})" if code else ""))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
