"""Documentation rules (issue 10): every module of ``lectures_lib`` has ``__all__`` naming what exists, and every
public function it defines has a numpy-style docstring with a ``Parameters`` section when it takes arguments and a
``Returns`` section unless it returns None (a generator or context manager documents ``Yields`` instead);
every public class it defines has a docstring."""
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import lectures_lib

PACKAGE_DIR = Path(lectures_lib.__file__).resolve().parent
# Lesson modules still being written: a module that needs one of them may be on disk before it.
LESSONS_IN_PROGRESS = {"dissection", "universal", "blackbox", "defenses"}


def _modules(path: Path, prefix: str) -> list[str]:
    """Every module and subpackage under ``path``, found on disk without importing anything."""
    names = []
    for info in pkgutil.iter_modules([str(path)]):
        if info.name.startswith("_"):
            continue
        names.append(prefix + info.name)
        if info.ispkg:
            names += _modules(path / info.name, f"{prefix}{info.name}.")
    return names


MODULES = _modules(PACKAGE_DIR, "lectures_lib.")


def _import(name: str):
    """Import a module; skip it when it cannot be imported because a lesson module in progress is not on disk yet."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        for lesson in LESSONS_IN_PROGRESS:
            wanted = f"lectures_lib.{lesson}"
            if err.name == wanted and not (PACKAGE_DIR / f"{lesson}.py").exists():
                pytest.skip(f"{name} needs {wanted}, which is not on disk yet")
        raise


def _section(doc: str, title: str) -> bool:
    """Whether a numpy-style docstring has the section ``title`` (its name underlined with dashes)."""
    return re.search(rf"^\s*{title}\s*\n\s*-{{3,}}\s*$", doc, re.M) is not None


def _public(module) -> list[tuple[str, object]]:
    """The public names ``module`` defines: those in ``__all__`` when it has one, else those not starting with ``_``."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    found = [(n, getattr(module, n)) for n in names if hasattr(module, n)]
    return [(n, obj) for n, obj in found
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and getattr(obj, "__module__", None) == module.__name__]


def _takes_arguments(func) -> bool:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return any(name not in ("self", "cls") for name in params)


def _yields(func) -> bool:
    """A generator function, or a context manager written as one (``contextlib.contextmanager``)."""
    return inspect.isgeneratorfunction(inspect.unwrap(func))


def _returns_none(func) -> bool:
    try:
        annotation = inspect.signature(func).return_annotation
    except (TypeError, ValueError):
        return False
    return annotation is None or annotation == "None"


def doc_problems(func) -> list[str]:
    """What the docstring of ``func`` lacks (empty when it complies)."""
    doc = inspect.getdoc(func)
    if not doc or not doc.strip():
        return ["no docstring"]
    problems = []
    if _takes_arguments(func) and not _section(doc, "Parameters"):
        problems.append("no Parameters section")
    if _yields(func):
        if not (_section(doc, "Yields") or _section(doc, "Returns")):
            problems.append("no Yields section")
    elif not _returns_none(func) and not _section(doc, "Returns"):
        problems.append("no Returns section")
    return problems


@pytest.mark.parametrize("name", MODULES)
def test_module_has_all(name):
    module = _import(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    assert not isinstance(module.__all__, str), f"{name}.__all__ must be a list of names, not a string"
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what the module lacks: {missing}"
    duplicates = sorted({n for n in module.__all__ if list(module.__all__).count(n) > 1})
    assert not duplicates, f"{name}.__all__ names {duplicates} twice"


@pytest.mark.parametrize("name", MODULES)
def test_public_functions_have_numpy_docstrings(name):
    module = _import(name)
    problems = {}
    for attr, obj in _public(module):
        if inspect.isclass(obj):
            if not (obj.__dict__.get("__doc__") or "").strip():
                problems[attr] = ["class without a docstring"]
        else:
            found = doc_problems(obj)
            if found:
                problems[attr] = found
    assert not problems, f"{name}: " + "; ".join(f"{f} ({', '.join(p)})" for f, p in sorted(problems.items()))


def test_modules_are_found():
    assert {"lectures_lib.config", "lectures_lib.plumbing", "lectures_lib.plotting"} <= set(MODULES)
