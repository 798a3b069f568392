"""Shared test settings: a non-interactive matplotlib backend and a temporary data folder fixture."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def tmp_data_dir(tmp_path, monkeypatch):
    """Point LECTURES_DATA at an empty temporary folder for the test."""
    monkeypatch.setenv("LECTURES_DATA", str(tmp_path))
    return tmp_path
