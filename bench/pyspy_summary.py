"""Summarise py-spy ``--format raw`` profiles (collapsed stacks): per process, the top functions by own
and by inclusive samples, so that a profile recorded by ``oneway.py``/``oltp_catchup.py --profile DIR``
can be read and quoted without a flame-graph viewer.

    python bench/pyspy_summary.py DIR/otter-oltp_write_only.txt [--top 25] [--match TEXT ...]

Each line of a raw profile is ``frame;frame;...;frame COUNT``, the root first; with ``--subprocesses``
the first frame names the process (``process 123:"python -m otter_core.cli run ..."``). A frame is
``function (file:line)``; lines are dropped here so a function's samples add up. ``--match TEXT`` also
prints the inclusive share of the frames whose text contains TEXT (e.g. ``_on_commit``).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict
from pathlib import Path

_LINE = re.compile(r":\d+\)$")
_PROCESS = re.compile(r'process \d+:"[^"]*";?')  # its command line may hold ';' (python -c "...; ...")
_THREAD_START = {"Thread._bootstrap", "Thread._bootstrap_inner", "Thread.run", "_WorkItem.run"}


def frame_name(frame: str) -> str:
    """``fn (path/to/module.py:12)`` -> ``fn (module.py)``: one name per function, whatever the line."""
    frame = _LINE.sub(")", frame)
    if " (" in frame:
        fn, where = frame.split(" (", 1)
        parts = where.rstrip(")").split("/")
        return f"{fn} ({'/'.join(parts[-2:])})"
    return frame


def process_name(frame: str) -> str:
    if "otter_core.cli" in frame:
        return "otter-run (runner)"
    if "resource_tracker" in frame:
        return "multiprocessing resource tracker"
    if "multiprocessing" in frame:
        return "child process (selector)"
    return frame[:60]


def read(paths: list[Path], by_thread: bool = False) -> dict[str, list[tuple[list[str], int]]]:
    """Stacks per process (or per thread): [(frames root first, count)]."""
    out: dict[str, list[tuple[list[str], int]]] = defaultdict(list)
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            proc = "all"
            while (found := _PROCESS.match(stack)) is not None:  # parent first: the last one ran it
                proc = process_name(found.group(0))
                stack = stack[found.end() :]
            frames = stack.split(";")
            frames = [frame_name(f) for f in frames if not f.startswith("thread ")]
            if by_thread:  # py-spy's raw stacks name no thread: the thread's entry function stands for it
                entry = next((f for f in frames if f.split(" (")[0] not in _THREAD_START), "?")
                proc = f"{proc}, thread {entry}"
            out[proc].append((frames, int(count)))
    return out


def summarise(stacks: list[tuple[list[str], int]], top: int, matches: list[str], rate: int) -> list[str]:
    total = sum(count for _, count in stacks)
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    matched: Counter[str] = Counter()
    for frames, count in stacks:
        if frames:
            own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
        for text in matches:
            if any(text in f for f in frames):
                matched[text] += count
    lines = [f"{total} samples (~{total / rate:.1f} s holding the GIL at {rate} samples/s)"]
    lines.append("  own samples:")
    lines += [f"    {100 * n / total:5.1f} %  {name}" for name, n in own.most_common(top)]
    lines.append("  inclusive samples:")
    lines += [f"    {100 * n / total:5.1f} %  {name}" for name, n in inclusive.most_common(top)]
    if matches:
        lines.append("  inclusive, frames containing:")
        lines += [f"    {100 * matched[text] / total:5.1f} %  {text}" for text in matches]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="+", type=Path)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument(
        "--by-thread",
        action="store_true",
        help="one summary per thread entry function (for --idle wall-clock profiles)",
    )
    ap.add_argument("--rate", type=int, default=200, help="py-spy's --rate of the recording")
    ap.add_argument("--match", action="append", default=[], help="inclusive share of frames containing this")
    args = ap.parse_args()
    for proc, stacks in sorted(read(args.paths, args.by_thread).items()):
        print(f"== {proc}")
        print("\n".join(summarise(stacks, args.top, args.match, args.rate)))


if __name__ == "__main__":
    main()
