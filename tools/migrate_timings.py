#!/usr/bin/env python3
"""Moves the wall-clock values of committed chapter runs out of summary.json.

A chapter run used to write its timings (tokens/s, ms per token, GFLOP/s) into
summary.json, so that every rerun changed a tracked file. They now go to
measured.json beside it (with --timings) or to the untracked timings.json.
This script applies that split to summary.json files written before it, without
rerunning anything: the timing keys, the findings that quote them and the
figures that draw them move, as text, from summary.json into measured.json
(numbers keep their exact digits); ch07's tables.txt gives its timed tables to
measured.txt. Running it again changes nothing.

    python3 tools/migrate_timings.py [book/src/figures]
"""

import json
import re
import sys
from pathlib import Path

# The keys each chapter now records with `record_time` (and `record_training`'s
# "<model> tokens/s").
TIMING_KEYS = {
    "ch05": {
        "tokens/s", "training seconds", "machine",
        "cache ms/token at start", "cache ms/token at end",
        "recompute ms/token at start", "recompute ms/token at end",
        "prefill ms for the whole context", "token-by-token ms for the whole context",
        "generation ms with the cache", "generation ms recomputing",
    },
    "ch07": {
        "profile: step milliseconds", "profile: matrix products' share",
        "training step: tokens per second", "fma peak GFLOP/s per core",
        "training step: MFU", "training step: GFLOP/s",
    },
}
TIMED_FINDINGS = {
    "ch05": ("With the cache a token costs", "A prompt of "),
    "ch07": ("a training step of the §5 model runs at",),
}
TIMED_FIGURES = {"ch05": ("kv_cache.svg",), "ch07": ("profile.svg", "roofline.svg", "measured.txt")}


def is_timing(chapter, key):
    return key in TIMING_KEYS.get(chapter, ()) or (chapter == "ch03" and key.endswith(" tokens/s"))


def split_ch07_tables(folder):
    """tables.txt keeps the gradient check and the PyTorch round trip; the
    profile, the roofline and the MFU go to measured.txt."""
    tables = folder / "tables.txt"
    if not tables.exists() or (folder / "measured.txt").exists():
        return False
    lines = tables.read_text().splitlines(keepends=True)
    start = next(i for i, l in enumerate(lines) if l.startswith("§5 model D "))
    end = next(i for i, l in enumerate(lines) if l.strip() == "ANCHOR_END: mfu") + 1
    (folder / "measured.txt").write_text("".join(lines[start:end]))
    tables.write_text("".join(lines[:start] + lines[end:]))
    return True


def machine_of(folder, figures):
    """The machine a timed figure's caption names (`· on …`), if any."""
    for name in figures:
        path = folder / name
        if path.suffix == ".svg" and path.exists():
            m = re.search(r"·\s+on ([^<]+?)\s*<", path.read_text())
            if m:
                return m.group(1)
    return None


def migrate(path):
    text = path.read_text()
    summary = json.loads(text)
    chapter = summary.get("chapter", "")
    lines = text.split("\n")
    moved_values, moved_findings, moved_figures, kept = [], [], [], []
    section = None
    for line in lines:
        stripped = line.strip()
        m = re.match(r'^  "(\w+)": [\[{]', line)
        if m:
            section = m.group(1)
        entry = stripped.rstrip(",")
        if section == "values" and line.startswith("    \"") and not entry.endswith(("[", "{")):
            key = json.loads("{" + entry + "}")
            (k, _), = key.items()
            if is_timing(chapter, k):
                moved_values.append(entry)
                continue
        if section == "findings" and line.startswith("    \""):
            if json.loads(entry).startswith(TIMED_FINDINGS.get(chapter, ("\0",))):
                moved_findings.append(entry)
                continue
        if section == "figures" and line.startswith("    \""):
            if json.loads(entry) in TIMED_FIGURES.get(chapter, ()):
                moved_figures.append(entry)
                continue
        kept.append(line)
    folder = path.parent
    split = chapter == "ch07" and split_ch07_tables(folder)
    if split and '"measured.txt"' not in moved_figures:
        moved_figures.append('"measured.txt"')
    if not (moved_values or moved_findings or moved_figures):
        return False
    # Every entry of a list or object but its last ends with a comma.
    for i in range(len(kept) - 1):
        if kept[i].startswith("    ") and kept[i + 1].strip() in ("]", "}", "],", "},"):
            kept[i] = kept[i].rstrip(",")
    text = "\n".join(kept).replace("[\n  ]", "[]")
    json.loads(text)
    path.write_text(text)

    command = summary["values"].get("command", f"cargo run --release --bin {chapter}")
    command += " --timings" if " -- " in command else " -- --timings"
    machine = dict(json.loads("{" + ",".join(moved_values) + "}")).get("machine") or machine_of(
        folder, [json.loads(f) for f in moved_figures]
    ) or "not recorded"

    def block(entries, indent="    "):
        return ",\n".join(indent + e for e in entries)

    def listing(entries):
        return "[\n" + block(entries) + "\n  ]" if entries else "[]"

    measured = (
        "{\n"
        f'  "chapter": {json.dumps(chapter)},\n'
        f'  "command": {json.dumps(command, ensure_ascii=False)},\n'
        f'  "figures": {listing(moved_figures)},\n'
        f'  "findings": {listing(moved_findings)},\n'
        f'  "machine": {json.dumps(machine, ensure_ascii=False)},\n'
        f'  "values": ' + ("{\n" + block(moved_values) + "\n  }" if moved_values else "{}") + "\n}"
    )
    json.loads(measured)
    (folder / "measured.json").write_text(measured)
    return True


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "book/src/figures")
    for path in sorted(root.rglob("summary.json")):
        if migrate(path):
            print(f"moved the timings of {path} to {path.parent / 'measured.json'}")


if __name__ == "__main__":
    main()
