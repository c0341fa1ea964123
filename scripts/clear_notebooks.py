#!/usr/bin/env python
"""Strip outputs, execution counts and widget state from notebooks (they are committed clean).

Usage::

    python scripts/clear_notebooks.py                 # every notebooks/*.ipynb, in place
    python scripts/clear_notebooks.py a.ipynb b.ipynb # those files
    python scripts/clear_notebooks.py --check         # exit 1 listing notebooks that are not clean
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
#: notebook-level metadata kept; everything else (widget state, run-time info) is dropped
KEEP_METADATA = ("kernelspec", "language_info")


def is_clean(nb) -> bool:
    """No outputs, no execution counts, no widget state, no injected-parameters cell."""
    for cell in nb.cells:
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            return False
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            return False
        if set(cell.get("metadata", {})) - {"tags"}:
            return False
    return set(nb.metadata) <= set(KEEP_METADATA)


def clear(nb):
    """Return ``nb`` with outputs, counts, widget state and injected cells removed."""
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags")
        cell.metadata = nbformat.NotebookNode({"tags": tags} if tags else {})
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.metadata = nbformat.NotebookNode({k: v for k, v in nb.metadata.items() if k in KEEP_METADATA})
    nb.metadata.setdefault("kernelspec", {"display_name": "Python 3", "language": "python", "name": "python3"})
    nb.metadata.setdefault("language_info", {"name": "python"})
    return nb


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--check", action="store_true", help="only report notebooks that are not clean")
    args = ap.parse_args(argv)
    files = args.files or sorted((ROOT / "notebooks").glob("*.ipynb"))
    dirty = []
    for path in files:
        nb = nbformat.read(path, as_version=4)
        if is_clean(nb):
            continue
        dirty.append(path)
        if not args.check:
            nbformat.write(clear(nb), path)
            print(f"cleared {path}")
    if args.check and dirty:
        print("notebooks with outputs (run scripts/clear_notebooks.py):\n  " + "\n  ".join(map(str, dirty)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
