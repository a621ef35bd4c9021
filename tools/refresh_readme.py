"""Puts the current value of each headline number into README.md.

Each headline number in the README is followed by the directive it stands for,
in an HTML comment (`1.77 <!-- {{#value ch05/tinyshakespeare "final val loss" .2}} -->`),
and `cargo test` (tests/book.rs) fails when the two disagree. After a rerun,

    python3 tools/refresh_readme.py

rewrites each such number from the summaries, formatted as the book's
preprocessor formats it (tools/mdbook-mathml/src/values.rs).
"""
import json
import os
import re

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FIGURES = os.path.join(ROOT, "book", "src", "figures")
QUOTED = re.compile(r'(\S+) <!-- \{\{#value (\S+) "([^"]+)"(?: (\S+))?\}\} -->')


def values(folder):
    found = {}
    for name in ("summary.json", "measured.json"):
        path = os.path.join(FIGURES, folder, name)
        if os.path.exists(path):
            with open(path) as f:
                found.update(json.load(f)["values"])
    return found


def formatted(value, spec):
    if spec is None:
        return str(value)
    if spec.startswith("%."):
        return f"{100 * value:.{int(spec[2:])}f}"
    if spec.startswith(",."):
        return f"{value:,.{int(spec[2:])}f}"
    if spec.startswith("e."):
        return f"{value:.{int(spec[2:])}e}".replace("e-0", "e-").replace("e+0", "e")
    return f"{value:.{int(spec[1:])}f}"


def main():
    path = os.path.join(ROOT, "README.md")
    with open(path) as f:
        text = f.read()

    def refresh(m):
        folder, key, spec = m.group(2), m.group(3), m.group(4)
        new = formatted(values(folder)[key], spec)
        if new != m.group(1):
            print(f"{key}: {m.group(1)} -> {new}")
        return m.group(0).replace(m.group(1), new, 1)

    with open(path, "w") as f:
        f.write(QUOTED.sub(refresh, text))


if __name__ == "__main__":
    main()
