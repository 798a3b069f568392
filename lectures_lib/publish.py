"""The course as slides and as a static site, readable offline.

    python -m lectures_lib.publish slides [--out build/slides] [notebooks ...]          (make slides)
    python -m lectures_lib.publish site [--out build/site] [--mode lesson] [notebooks ...]   (make site)
    python -m lectures_lib.publish badges [notebooks ...]                                 (make badges)

- **Slides**: each lesson notebook as a reveal.js deck (``jupyter nbconvert --to slides``), cells split by
  their slideshow metadata. To present live with the kernel running, use JupyterLab's RISE extension
  (``jupyterlab-rise``, installed by ``make lab``).
- **Site**: each notebook executed in a run mode (``lesson`` by default) and exported to HTML with an
  index page; widget outputs keep the state they had when executed.

Both work offline: the JavaScript that nbconvert's templates fetch from CDNs (reveal.js, require.js,
jQuery, MathJax 2 and the Jupyter widgets' HTML manager) is installed once from the npm registry into
``<out>/vendor`` (:func:`vendor`), and the pages point there.
"""
from __future__ import annotations

import argparse
import html
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .config import REPO_ROOT

__all__ = ["VENDOR_PACKAGES", "vendor", "build_slides", "build_site", "lesson_title", "repository_url",
           "colab_badge", "install_line", "update_badges"]

# npm packages behind the CDN URLs of nbconvert's templates (reveal.js 4.0.2 is the version they target).
VENDOR_PACKAGES = ("reveal.js@4.0.2", "requirejs@2.1.10", "jquery@2.2.4", "mathjax@2.7.7",
                   "@jupyter-widgets/html-manager@1.0.15")


def _folder_name(package: str) -> str:
    return package.rsplit("@", 1)[0].split("/")[-1]


def vendor(out: Path) -> Path:
    """Fetch :data:`VENDOR_PACKAGES` from the npm registry into ``out/vendor/<name>`` once; later calls reuse them.

    ``npm pack`` without their dependencies: the files the pages load are self-contained bundles.

    Parameters
    ----------
    out : path-like
        The slides' or site's folder.

    Returns
    -------
    pathlib.Path
        ``out/vendor``.

    Raises
    ------
    RuntimeError
        When npm is missing or fails.
    """
    import tarfile
    import tempfile

    folder = Path(out) / "vendor"
    missing = [p for p in VENDOR_PACKAGES if not (folder / _folder_name(p)).is_dir()]
    if not missing:
        return folder
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed once to fetch reveal.js, MathJax and the widget manager for offline "
                           "slides and site: install Node.js (e.g. apt-get install npm)")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        run = subprocess.run([npm, "pack", "--silent", "--pack-destination", tmp, *missing],
                             capture_output=True, text=True)
        if run.returncode:
            raise RuntimeError(f"npm could not fetch {missing}: {run.stderr[-1500:]}")
        for package, tarball in zip(missing, run.stdout.split()):
            target = folder / _folder_name(package)
            with tarfile.open(Path(tmp) / tarball) as tar:
                members = [m for m in tar.getmembers() if m.name.startswith("package/") and ".." not in m.name]
                for m in members:
                    m.name = m.name[len("package/"):]
                tar.extractall(target, members=members, filter="data")
    return folder


def _local_urls(exporter, prefix: str) -> None:
    """Point an nbconvert HTML/slides exporter's CDN URLs at the vendored copies under ``prefix``."""
    exporter.require_js_url = f"{prefix}/requirejs/require.js"
    exporter.jquery_url = f"{prefix}/jquery/dist/jquery.min.js"
    exporter.mathjax_url = f"{prefix}/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"
    exporter.widget_renderer_url = f"{prefix}/html-manager/dist/embed-amd.js"
    if hasattr(exporter, "reveal_url_prefix"):
        exporter.reveal_url_prefix = f"{prefix}/reveal.js"


def repository_url(pyproject: Path | None = None) -> str:
    """The course repository's URL: ``[project.urls] Repository`` in ``pyproject.toml``.

    The one setting that the notebooks' Colab badges and install cells are generated from (:func:`update_badges`).

    Parameters
    ----------
    pyproject : path-like, optional
        Default: the repository's ``pyproject.toml``.

    Returns
    -------
    str
        Without a trailing slash.

    Raises
    ------
    ValueError
        When the setting is missing.
    """
    import re

    text = Path(pyproject or REPO_ROOT / "pyproject.toml").read_text()
    match = re.search(r'^Repository\s*=\s*"([^"]+)"', text, re.M)
    if not match:
        raise ValueError("pyproject.toml must set [project.urls] Repository = \"https://github.com/<owner>/<repo>\"")
    return match.group(1).rstrip("/")


def colab_badge(url: str, notebook: str) -> str:
    """The markdown of the "Open in Colab" badge of ``notebooks/<notebook>`` on the ``main`` branch of ``url``.

    Parameters
    ----------
    url : str
        The GitHub repository, ``https://github.com/<owner>/<repo>``.
    notebook : str
        The notebook's file name, e.g. ``"01_lenet_mnist.ipynb"``.

    Returns
    -------
    str
    """
    path = url.split("github.com/", 1)[-1]
    return ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{path}/blob/main/notebooks/{notebook})")


def install_line(url: str) -> str:
    """The Colab install cell's line that pip-installs ``git+<url>`` (indented by 4 spaces).

    Parameters
    ----------
    url : str
        The repository's URL.

    Returns
    -------
    str
    """
    return (f'    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "git+{url}"], check=True)')


def update_badges(notebooks=None, url: str | None = None) -> list[Path]:
    """Rewrite the Colab badges (markdown cells) and the Colab install cell's pip line of each notebook from ``url``.

    Parameters
    ----------
    notebooks : list of path-like, optional
        Default: every ``notebooks/NN_*.ipynb``.
    url : str, optional
        Default: :func:`repository_url`.

    Returns
    -------
    list of pathlib.Path
        The notebooks that changed (rewritten in place).
    """
    import re

    url = url or repository_url()
    changed = []
    for path in _notebooks(notebooks):
        nb = json.loads(path.read_text())
        before = json.dumps(nb)
        for cell in nb["cells"]:
            src = "".join(cell["source"])
            if cell["cell_type"] == "markdown":
                src = re.sub(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)", colab_badge(url, path.name), src)
            elif '"google.colab" in sys.modules' in src:
                pip = r'^\s*subprocess\.run\(\[sys\.executable, "-m", "pip", "install", "-q", "git\+[^"]*"\], check=True\)'
                src = re.sub(pip, install_line(url), src, flags=re.M)
            cell["source"] = src.splitlines(keepends=True)
        if json.dumps(nb) != before:
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
            changed.append(path)
    return changed


def _notebooks(paths) -> list[Path]:
    return [Path(p) for p in paths] if paths else sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def lesson_title(nb: dict) -> tuple[str, str]:
    """The title and blurb of a lesson notebook, from its first markdown cell.

    Parameters
    ----------
    nb : dict
        The notebook as JSON.

    Returns
    -------
    title : str
        The cell's first heading, without its ``#`` ("" when none).
    blurb : str
        The first line after the cell's first line that is not empty, a heading or a badge ("" when none).
    """
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            lines = "".join(cell["source"]).splitlines()
            title = next((line.lstrip("# ").strip() for line in lines if line.startswith("#")), "")
            prose = [line for line in lines[1:] if line.strip() and not line.startswith(("[!", "#"))]
            return title, (prose[0] if prose else "")
    return "", ""


def build_slides(notebooks=None, out: Path | None = None) -> list[Path]:
    """Write a reveal.js deck ``out/NN_topic.slides.html`` of each notebook (nbconvert's slides), readable offline.

    The notebooks are stored without outputs, so the slides show the code and prose; present a deck live with RISE to
    see outputs. The JavaScript is vendored once (:func:`vendor`).

    Parameters
    ----------
    notebooks : list of path-like, optional
        Default: every ``notebooks/NN_*.ipynb``.
    out : path-like, optional
        Default: ``<repo>/build/slides``.

    Returns
    -------
    list of pathlib.Path
        The decks written.

    Raises
    ------
    RuntimeError
        When the JavaScript is not vendored yet and npm is missing or fails.
    """
    import nbformat
    from nbconvert import SlidesExporter

    out = Path(out or REPO_ROOT / "build" / "slides")
    vendor(out)
    written = []
    for path in _notebooks(notebooks):
        exporter = SlidesExporter()
        _local_urls(exporter, "vendor")
        body, _ = exporter.from_notebook_node(nbformat.read(path, as_version=4))
        target = out / f"{path.stem}.slides.html"
        target.write_text(body)
        written.append(target)
    return written


def build_site(notebooks=None, out: Path | None = None, mode: str = "lesson", timeout: int = 1800) -> Path:
    """Execute each notebook in run mode ``mode`` and write it as HTML, with ``out/index.html`` linking every lesson.

    Each notebook runs in a fresh kernel from the repository root and keeps its widgets' state; the pages use the
    vendored JavaScript (:func:`vendor`), so the site reads offline. ``out/site.json`` records the mode and the lessons.
    ``LECTURES_MODE`` and ``LECTURES_FAST`` are restored afterwards.

    Parameters
    ----------
    notebooks : list of path-like, optional
        Default: every ``notebooks/NN_*.ipynb``.
    out : path-like, optional
        Default: ``<repo>/build/site``.
    mode : {"fast", "lesson", "paper"}, default "lesson"
        The run mode the notebooks execute in.
    timeout : int, default 1800
        Seconds allowed per cell.

    Returns
    -------
    pathlib.Path
        ``out/index.html``.

    Raises
    ------
    ValueError
        For an unknown ``mode``.
    RuntimeError
        When the JavaScript is not vendored yet and npm is missing or fails.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    from .config import MODES

    if mode not in MODES:
        raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
    out = Path(out or REPO_ROOT / "build" / "site")
    vendor(out)
    rows = []
    env_backup = {k: os.environ.get(k) for k in ("LECTURES_MODE", "LECTURES_FAST")}
    os.environ["LECTURES_MODE"] = mode
    os.environ.pop("LECTURES_FAST", None)
    try:
        for path in _notebooks(notebooks):
            nb = nbformat.read(path, as_version=4)
            NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                           resources={"metadata": {"path": str(REPO_ROOT)}}).execute()
            exporter = HTMLExporter(template_name="lab")
            _local_urls(exporter, "vendor")
            body, _ = exporter.from_notebook_node(nb)
            (out / f"{path.stem}.html").write_text(body)
            title, blurb = lesson_title(nb)
            rows.append((path.stem, title or path.stem, blurb))
    finally:
        for k, v in env_backup.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    items = "\n".join(f'  <li><a href="{html.escape(stem)}.html">{html.escape(title)}</a>'
                      f'<p>{html.escape(blurb)}</p></li>' for stem, title, blurb in rows)
    index = out / "index.html"
    index.write_text(f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Seeing and Fooling ConvNets</title>
<style>
body{{font-family:sans-serif;max-width:48em;margin:2em auto;line-height:1.4}}
li{{margin:1em 0}} p{{margin:.2em 0;color:#444}}
</style>
</head><body>
<h1>Seeing and Fooling ConvNets</h1>
<p>A runnable lecture course on convolutional networks for image classification: what they learn, and how easily
they are fooled. These pages are the lessons executed in the <code>{html.escape(mode)}</code> run mode.</p>
<ol>
{items}
</ol>
</body></html>
""")
    (out / "site.json").write_text(json.dumps({"mode": mode, "lessons": [r[0] for r in rows]}, indent=1))
    return index


def main(argv=None) -> None:
    """The command line: ``python -m lectures_lib.publish {slides,site,badges} [--out DIR] [--mode MODE] [notebooks ...]``.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: the process's).
    """
    parser = argparse.ArgumentParser(description="Build the course's slides or static site, offline.")
    parser.add_argument("what", choices=["slides", "site", "badges"])
    parser.add_argument("--out")
    parser.add_argument("--mode", default="lesson")
    parser.add_argument("notebooks", nargs="*")
    args = parser.parse_intermixed_args(argv)
    if args.what == "badges":
        for path in update_badges(args.notebooks):
            print(f"updated {path}")
    elif args.what == "slides":
        for path in build_slides(args.notebooks, args.out and Path(args.out)):
            print(f"wrote {path}")
    else:
        print(f"wrote {build_site(args.notebooks, args.out and Path(args.out), args.mode)}")


if __name__ == "__main__":
    main(sys.argv[1:])
