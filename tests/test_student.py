"""Student copies: solutions stubbed, answers gone, outputs cleared; every exercise's check fails on the stub
with the checker's message and passes with the solution put back."""
import json
import re
from pathlib import Path

import pytest

from lectures_lib import check, student

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_strip_solutions_keeps_indentation_and_the_rest():
    src = "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n\nprint(f)\n"
    assert student.strip_solutions(src) == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\nprint(f)\n"
    with pytest.raises(ValueError, match="unbalanced"):
        student.strip_solutions("### BEGIN SOLUTION\nx = 1\n")


def test_student_notebook_drops_answers_and_outputs():
    nb = {"cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["**Question.** why?"]},
        {"cell_type": "markdown", "metadata": {"tags": ["answer"]}, "source": ["because"]},
        {"cell_type": "code", "metadata": {"tags": ["exercise"]}, "execution_count": 3,
         "outputs": [{"output_type": "stream", "name": "stdout", "text": "x"}],
         "source": ["def f(x):\n", "    ### BEGIN SOLUTION\n", "    return x\n", "    ### END SOLUTION\n"]},
        {"cell_type": "code", "metadata": {"tags": ["check"]}, "execution_count": 4, "outputs": [], "source": ["f(1)"]},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    out = student.student_notebook(nb)
    assert [c["cell_type"] for c in out["cells"]] == ["markdown", "code", "code"]
    assert "BEGIN SOLUTION" not in json.dumps(out) and out["cells"][1]["outputs"] == []
    assert "return x" in json.dumps(nb)  # the source notebook is untouched
    assert student.exercises(nb) == [("def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n", "f(1)")]


def _setup_source(nb: dict) -> str:
    cells = [c for c in nb["cells"] if c["cell_type"] == "code" and "setup" in c.get("metadata", {}).get("tags", [])]
    src = "\n".join("".join(c["source"]) for c in cells)
    return "\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!")))


EXERCISES = [(nb, i) for nb in NOTEBOOKS for i in range(len(student.exercises(json.loads(nb.read_text()))))]


@pytest.mark.parametrize("nb,i", EXERCISES, ids=[f"{nb.stem}-{i + 1}" for nb, i in EXERCISES])
def test_each_exercise_fails_as_a_stub_and_passes_with_its_solution(nb, i):
    source = json.loads(nb.read_text())
    setup = _setup_source(source)
    exercise, checking = student.exercises(source)[i]
    namespace: dict = {}
    exec(compile(setup, f"{nb.name}:setup", "exec"), namespace)
    exec(compile(exercise, f"{nb.name}:exercise", "exec"), namespace)
    exec(compile(checking, f"{nb.name}:check", "exec"), namespace)  # the instructor's solution passes
    stubbed: dict = {}
    exec(compile(setup, f"{nb.name}:setup", "exec"), stubbed)
    exec(compile(student.strip_solutions(exercise), f"{nb.name}:exercise", "exec"), stubbed)
    with pytest.raises(check.CheckFailed, match="not implemented yet|is None|expected"):
        exec(compile(checking, f"{nb.name}:check", "exec"), stubbed)


def test_generated_copies_hold_no_solution(tmp_path):
    written = student.write_student_copies(NOTEBOOKS, tmp_path)
    assert len(written) == len(NOTEBOOKS)
    for path in written:
        text = path.read_text()
        assert "### BEGIN SOLUTION" not in text and not re.search(r'"tags": \[[^\]]*"answer"', text)
