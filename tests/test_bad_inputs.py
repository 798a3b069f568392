"""The bad-input table: every public function, called as a careless user would, gets a clear error.

A case passes when the call raises ``ValueError``, ``TypeError`` or ``FileNotFoundError`` from inside
``lectures_lib`` (the innermost frame of the traceback is the library's, not torch's, numpy's,
scikit-learn's or PIL's) and the message contains the case's ``names`` (the argument). A call that
returns is a silent result. The cases live in ``bad_inputs_<module>.py`` beside this file.
"""
from __future__ import annotations

import importlib
import traceback
import warnings
from pathlib import Path

import pytest

MODULES = sorted(p.stem for p in Path(__file__).parent.glob("bad_inputs_*.py"))
CASES = [c for m in MODULES for c in importlib.import_module(m).CASES]
LIBRARY = str(Path(__file__).resolve().parent.parent / "lectures_lib")


def classify(case) -> tuple[str, str]:
    """``("clear" | "silent" | "deep" | "unclear", detail)`` for one case."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            case.call()
    except (ValueError, TypeError, FileNotFoundError) as err:
        frame = traceback.extract_tb(err.__traceback__)[-1]
        where = f"{frame.filename}:{frame.lineno}"
        if not str(Path(frame.filename).resolve()).startswith(LIBRARY):
            return "deep", f"{type(err).__name__} raised at {where}: {err}"
        if case.names not in str(err):
            return "unclear", f"message does not name {case.names!r}: {type(err).__name__}: {err}"
        return "clear", str(err)
    except Exception as err:  # noqa: BLE001 - any other exception type is a deep trace
        frame = traceback.extract_tb(err.__traceback__)[-1]
        return "deep", f"{type(err).__name__} raised at {frame.filename}:{frame.lineno}: {err}"
    return "silent", "returned without an error"


def test_the_table_is_large_and_covers_every_module():
    assert len(CASES) >= 300, len(CASES)
    assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"
    lessons = {"visualize", "saliency", "dissection", "attacks", "universal", "blackbox", "defenses"}
    on_disk = {m for m in lessons if (Path(__file__).parent.parent / "lectures_lib" / f"{m}.py").exists()}
    assert {"bad_inputs_foundation", "bad_inputs_plotting"} | {f"bad_inputs_{m}" for m in on_disk} <= set(MODULES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_a_clear_error(case):
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    verdict, detail = classify(case)
    assert verdict == "clear", f"{verdict}: {detail}"
    left = set(plt.get_fignums()) - before
    assert not left, f"a refused input left {len(left)} half-drawn figure(s) open"
