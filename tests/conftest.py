"""Shared test settings: a non-interactive matplotlib backend and a temporary data folder fixture."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures(request):
    """Close every figure after each test; first check the rules of figures that teach on each one the
    test left open (tests/figure_rules.py), unless the test is marked ``figure_rules_exempt``."""
    yield
    import os

    from figure_rules import figure_problems

    problems = []
    if os.environ.get("FIGURE_RULES", "1") != "0" and not request.node.get_closest_marker("figure_rules_exempt"):
        for num in plt.get_fignums():
            problems += [f"figure {num}: {p}" for p in figure_problems(plt.figure(num))]
    plt.close("all")
    if problems:
        pytest.fail("figures that do not teach:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def tmp_data_dir(tmp_path, monkeypatch):
    """Point LECTURES_DATA at an empty temporary folder for the test."""
    monkeypatch.setenv("LECTURES_DATA", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a test module (``pytestmark = pytest.mark.usefixtures("one_thread")``): tiny models
    gain nothing from a second thread, and lose a lot when the cores are shared."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
