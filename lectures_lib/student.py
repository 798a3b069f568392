"""Student copies of the lesson notebooks, generated from the instructor sources in ``notebooks/``.

    python -m lectures_lib.student [--out student] [notebooks/NN_topic.ipynb ...]      (or: make student)

In each notebook, every region between nbgrader's markers ``### BEGIN SOLUTION`` and ``### END SOLUTION``
becomes ``# YOUR CODE HERE`` and ``raise NotImplementedError()`` (at the marker's indentation), every
markdown cell tagged ``answer`` is removed, and every output is cleared. The markers are nbgrader's, so an
instructor who grades with nbgrader can use the sources directly (``nbgrader generate_assignment``).

Cell tags the course uses: ``setup`` (the imports cell), ``exercise`` (a cell with a solution region),
``check`` (the cell after it that checks the exercise with :mod:`lectures_lib.check`), ``answer``.
"""
from __future__ import annotations

import argparse
import copy
import json
import re
from pathlib import Path

from .config import REPO_ROOT

__all__ = ["strip_solutions", "student_notebook", "write_student_copies", "exercises"]

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
_REGION = re.compile(rf"^([ \t]*){re.escape(BEGIN)}[^\n]*\n.*?^[ \t]*{re.escape(END)}[^\n]*(\n|$)", re.M | re.S)


def strip_solutions(source: str) -> str:
    """``source`` with each solution region (``### BEGIN SOLUTION`` ... ``### END SOLUTION``) replaced by the stub.

    Parameters
    ----------
    source : str
        A code cell's source.

    Returns
    -------
    str
        The stub is ``# YOUR CODE HERE`` and ``raise NotImplementedError()``, at the region's indentation.

    Raises
    ------
    ValueError
        When the cell's markers are unbalanced.
    """
    if source.count(BEGIN) != source.count(END):
        raise ValueError(f"unbalanced solution markers in a cell: {source[:80]!r}")
    return _REGION.sub(lambda m: f"{m.group(1)}# YOUR CODE HERE\n{m.group(1)}raise NotImplementedError()\n", source)


def _tags(cell: dict) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def student_notebook(nb: dict) -> dict:
    """The student copy of a notebook: solutions stubbed, cells tagged ``answer`` removed, outputs cleared.

    Parameters
    ----------
    nb : dict
        The notebook as JSON (nbformat 4); left unchanged.

    Returns
    -------
    dict
        A new notebook.
    """
    out = copy.deepcopy(nb)
    cells = []
    for cell in out["cells"]:
        if "answer" in _tags(cell):
            continue
        src = "".join(cell["source"])
        if cell["cell_type"] == "code":
            src = strip_solutions(src)
            cell["outputs"], cell["execution_count"] = [], None
        cell["source"] = src.splitlines(keepends=True)
        cells.append(cell)
    out["cells"] = cells
    return out


def exercises(nb: dict) -> list[tuple[str, str]]:
    """The exercises of a notebook with their checks.

    Parameters
    ----------
    nb : dict
        The notebook as JSON.

    Returns
    -------
    list of tuple of str
        ``(exercise source, check source)``: each code cell tagged ``exercise`` with the next code cell.

    Raises
    ------
    ValueError
        When an exercise cell is not followed by a code cell tagged ``check``.
    """
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    pairs = []
    for i, cell in enumerate(code):
        if "exercise" in _tags(cell):
            if i + 1 >= len(code) or "check" not in _tags(code[i + 1]):
                raise ValueError(f"exercise cell {''.join(cell['source'])[:60]!r} must be followed by a cell tagged 'check'")
            pairs.append(("".join(cell["source"]), "".join(code[i + 1]["source"])))
    return pairs


def write_student_copies(notebooks: list[Path] | None = None, out: Path | None = None) -> list[Path]:
    """Write the student copy (:func:`student_notebook`) of each notebook into ``out``.

    Parameters
    ----------
    notebooks : list of path-like, optional
        Default: every ``notebooks/NN_*.ipynb``.
    out : path-like, optional
        The folder, created if missing (default ``<repo>/student``).

    Returns
    -------
    list of pathlib.Path
        The files written, ``out/<notebook's name>``.
    """
    notebooks = notebooks or sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    out = Path(out or REPO_ROOT / "student")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        nb = json.loads(Path(path).read_text())
        target = out / Path(path).name
        target.write_text(json.dumps(student_notebook(nb), indent=1, ensure_ascii=False) + "\n")
        written.append(target)
    return written


def main() -> None:
    """The command line: ``python -m lectures_lib.student [--out student] [notebooks ...]``."""
    parser = argparse.ArgumentParser(description="Generate the student copies of the lesson notebooks.")
    parser.add_argument("--out", default=str(REPO_ROOT / "student"))
    parser.add_argument("notebooks", nargs="*")
    args = parser.parse_args()
    for path in write_student_copies([Path(p) for p in args.notebooks] or None, Path(args.out)):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
