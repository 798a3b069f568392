"""Figures of lesson 08 (black-box attacks): the substitute's progress per round against the queries it cost,
the lineage of a seed image through Jacobian augmentation, transfer success against epsilon beside the
white-box attack, and the cost of the two threat models (success against queries per image). The attacks
themselves are in :mod:`lectures_lib.blackbox`; this module only draws what they return.
"""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..validation import check_range
from . import closes_figures_on_error, to_numpy_image

__all__ = ["cost_figure", "lineage", "lineage_figure", "substitute_figure", "transfer_figure", "examples_figure"]

_KEYS = ("round", "queries", "train_size")


def _check_history(history) -> list[dict]:
    if not isinstance(history, Sequence) or isinstance(history, (str, bytes)) or not history:
        raise ValueError("history must be a non-empty list of rounds (train_substitute(...).history)")
    for i, row in enumerate(history):
        if not isinstance(row, dict) or any(k not in row for k in _KEYS):
            raise ValueError(f"history[{i}] must be a dict with keys {_KEYS} (a round of train_substitute's history)")
    return list(history)


@closes_figures_on_error
def substitute_figure(history: Sequence[dict], oracle_accuracy: float | None = None, target_agreement: float | None = 0.8,
                      title: str | None = None):
    """The substitute round by round (Papernot et al. 2017, table 1): its accuracy on held-out digits and its
    agreement with the oracle against the oracle queries spent so far (log-2 axis, one point per round,
    labelled with the round and the training-set size).

    Parameters
    ----------
    history : list of dict
        :func:`lectures_lib.blackbox.train_substitute`'s ``history`` (``substitute_accuracy`` and/or
        ``agreement`` present).
    oracle_accuracy : float, optional
        The oracle's own accuracy on the held-out digits, drawn as a reference line.
    target_agreement : float, optional
        A dotted line at this agreement (the lesson's 80%).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    history = _check_history(history)
    if oracle_accuracy is not None:
        check_range(oracle_accuracy, "oracle_accuracy", 0.0, 1.0)
    if target_agreement is not None:
        check_range(target_agreement, "target_agreement", 0.0, 1.0)
    queries = [row["queries"] for row in history]
    curves = [(key, label, style) for key, label, style in
              (("substitute_accuracy", "substitute accuracy (true labels)", "o-"),
               ("agreement", "agreement with the oracle", "s--")) if all(row.get(key) is not None for row in history)]
    if not curves:
        raise ValueError("history must report substitute_accuracy or agreement (train_substitute with holdout=...)")
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for key, label, style in curves:
        ax.plot(queries, [row[key] for row in history], style, label=label, lw=2, ms=6)
    if oracle_accuracy is not None:
        ax.axhline(oracle_accuracy, color="black", lw=1, label=f"the oracle itself ({oracle_accuracy:.1%})")
    if target_agreement is not None:
        ax.axhline(target_agreement, color="grey", ls=":", lw=1, label=f"{target_agreement:.0%}")
    for row in history:
        ax.annotate(f"round {row['round']}\n{row['train_size']} pts", (row["queries"], 0.03), ha="center", fontsize=7,
                    color="dimgrey")
    ax.set_xscale("log", base=2)
    ax.set_xticks(queries)
    ax.set_xticklabels([f"{q:,}" for q in queries], fontsize=8)
    ax.set(xlabel="oracle queries spent (cumulative)", ylabel="fraction of held-out digits", ylim=(0, 1.02),
           title=title or "Substitute trained by Jacobian-based augmentation")
    ax.grid(alpha=0.3)
    ax.legend(loc="center right", fontsize=8)
    fig.tight_layout()
    return fig


def lineage(parents: torch.Tensor, index: int) -> list[int]:
    """The chain of training points from a seed image to point ``index``: ``[seed, child, ..., index]``.

    Parameters
    ----------
    parents : Tensor
        ``N`` int64 parent indices (-1 for seeds), from :func:`lectures_lib.blackbox.train_substitute`.
    index : int
        A point in ``[0, N)``.

    Returns
    -------
    list of int
    """
    if not isinstance(parents, torch.Tensor) or parents.dim() != 1 or parents.is_floating_point():
        raise ValueError("parents must be a 1-D integer tensor of parent indices (train_substitute(...).parents)")
    check_range(index, "index", 0, len(parents) - 1, integer=True)
    chain = [int(index)]
    while parents[chain[-1]] >= 0:
        chain.append(int(parents[chain[-1]]))
        if len(chain) > len(parents):
            raise ValueError("parents must describe a forest (a point is its own ancestor)")
    return chain[::-1]


@closes_figures_on_error
def lineage_figure(x_train: torch.Tensor, y_train: torch.Tensor, parents: torch.Tensor, seeds: Sequence[int] = (0, 1, 2)):
    """What Jacobian augmentation makes of a few seed images: one row per seed, its descendants through the
    rounds (each made from the previous by ``+ lam_rho sign(dF/dx)``), each titled with the oracle's label.

    Parameters
    ----------
    x_train, y_train, parents : Tensor
        :func:`lectures_lib.blackbox.train_substitute`'s training set, labels and parents.
    seeds : sequence of int
        Seed images (indices with parent -1) to follow; each row follows the last-made descendant line.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(x_train, torch.Tensor) or x_train.dim() != 4:
        raise ValueError("x_train must be an N x C x H x W tensor (train_substitute(...).x_train)")
    if not isinstance(y_train, torch.Tensor) or y_train.shape != (len(x_train),):
        raise ValueError(f"y_train must hold one label per image of x_train ({len(x_train)})")
    if not isinstance(parents, torch.Tensor) or parents.shape != (len(x_train),):
        raise ValueError(f"parents must hold one index per image of x_train ({len(x_train)})")
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise ValueError("seeds must be a non-empty sequence of seed indices")
    chains = []
    for s in seeds:
        check_range(s, "seeds", 0, len(x_train) - 1, integer=True)
        if parents[s] != -1:
            raise ValueError(f"seeds must be seed images (parent -1), got index {s} made from {int(parents[s])}")
        chain, current = [s], s
        while True:
            children = (parents == current).nonzero().flatten()
            if len(children) == 0:
                break
            current = int(children[0])
            chain.append(current)
        chains.append(chain)
    ncols = max(len(c) for c in chains)
    fig, axes = plt.subplots(len(chains), ncols, figsize=(1.9 * ncols, 2.1 * len(chains)), squeeze=False)
    for row, chain in zip(axes, chains):
        for j, ax in enumerate(row):
            ax.axis("off")
            if j >= len(chain):
                continue
            k = chain[j]
            ax.imshow(to_numpy_image(x_train[k]), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(("seed" if j == 0 else f"round {j}") + f"\noracle: {int(y_train[k])}", fontsize=9)
    fig.suptitle("Jacobian augmentation: each image is its left neighbour + lambda sign(dF/dx)", fontsize=10)
    fig.tight_layout()
    return fig


@closes_figures_on_error
def transfer_figure(curves: dict[str, dict], white_box: dict[str, dict] | None = None, clean_error: float | None = None,
                    title: str | None = None):
    """Black-box transfer success against epsilon: the oracle's misclassification rate on adversarial digits
    crafted on the substitute (solid), beside the same attacks run white-box on the oracle (dashed).

    Parameters
    ----------
    curves : dict
        ``{attack: {"eps": [...], "success": [...]}}`` (:func:`lectures_lib.blackbox.transfer_success`).
    white_box : dict, optional
        The same form for white-box attacks on the oracle's own model (e.g. ``1 - top1`` of
        :func:`lectures_lib.attacks.accuracy_under_attack`).
    clean_error : float, optional
        The oracle's error on clean digits, drawn as a reference line.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    for name, group in (("curves", curves), ("white_box", white_box)):
        if group is None and name == "white_box":
            continue
        if not isinstance(group, dict) or not group:
            raise ValueError(f"{name} must be a non-empty dict {{attack: {{'eps': [...], 'success': [...]}}}}")
        for attack, c in group.items():
            if not isinstance(c, dict) or "eps" not in c or "success" not in c or len(c["eps"]) != len(c["success"]):
                raise ValueError(f"{name}[{attack!r}] must be a dict with 'eps' and 'success' lists of one length")
    if clean_error is not None:
        check_range(clean_error, "clean_error", 0.0, 1.0)
    fig, ax = plt.subplots(figsize=(10, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (attack, c) in enumerate(curves.items()):
        color = colors[i % len(colors)]
        ax.plot(c["eps"], c["success"], "o-", color=color, lw=2, label=f"{attack}: crafted on the substitute (black box)")
        if white_box and attack in white_box:
            w = white_box[attack]
            ax.plot(w["eps"], w["success"], "^--", color=color, alpha=0.7, label=f"{attack}: on the oracle itself (white box)")
    if clean_error is not None:
        ax.axhline(clean_error, color="black", lw=1, label=f"clean error ({clean_error:.1%})")
    ax.set(xlabel="epsilon (L-inf, images in [0, 1])", ylabel="oracle misclassification rate", ylim=(-0.02, 1.02),
           title=title or "Transfer: adversarial digits crafted on the substitute, tried on the oracle")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


@closes_figures_on_error
def cost_figure(simba_queries: dict[str, torch.Tensor], simba_success: dict[str, torch.Tensor],
                transfer: dict[str, tuple[float, float]] | None = None, title: str | None = None):
    """The cost of the two threat models: for score-based attacks (SimBA, the Square attack), the fraction of
    images fooled within ``q`` queries (a cumulative curve per variant); for transfer attacks, one point each at
    the substitute's queries shared over the attacked images plus the one query that tries each image.

    Parameters
    ----------
    simba_queries, simba_success : dict
        ``{variant: B queries}`` and ``{variant: B bool success}`` (the ``queries`` and ``success`` of
        :func:`lectures_lib.blackbox.simba` or :func:`lectures_lib.blackbox.square_attack`), the same keys.
    transfer : dict, optional
        ``{label: (queries per image, success rate)}``.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(simba_queries, dict) or not simba_queries or not isinstance(simba_success, dict) \
            or set(simba_queries) != set(simba_success):
        raise ValueError("simba_queries and simba_success must be non-empty dicts with the same variants as keys")
    for name in simba_queries:
        q, s = simba_queries[name], simba_success[name]
        if not isinstance(q, torch.Tensor) or not isinstance(s, torch.Tensor) or q.shape != s.shape or q.dim() != 1:
            raise ValueError(f"simba_queries[{name!r}] and simba_success[{name!r}] must be 1-D tensors of one length")
    for queries, success in (transfer or {}).values():
        check_range(queries, "transfer queries", 0.0)
        check_range(success, "transfer success", 0.0, 1.0)
    fig, ax = plt.subplots(figsize=(10.5, 4.2))
    top = 1
    for name in simba_queries:
        q, s = simba_queries[name].cpu().double().numpy(), simba_success[name].cpu().numpy().astype(bool)
        grid = np.unique(np.concatenate([[1], q[s]]))
        fooled = [(s & (q <= g)).mean() for g in grid]
        ax.step(grid, fooled, where="post", lw=2,
                label=f"{name}: {s.mean():.0%} fooled, median {np.median(q[s]) if s.any() else float('nan'):.0f} queries")
        top = max(top, q.max())
    for label, (queries, success) in (transfer or {}).items():
        ax.plot([queries], [success], "*", ms=14, label=f"{label}: {success:.0%} fooled, {queries:.0f} queries/image")
        top = max(top, queries)
    ax.set_xscale("log")
    ax.set(xlim=(0.8, top * 1.5), ylim=(-0.02, 1.02), xlabel="oracle queries per image (log scale)",
           ylabel="fraction of images fooled", title=title or "What each threat model costs in queries")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="score-based (curves), transfer (stars)",
              title_fontsize=8)
    fig.tight_layout()
    return fig


@closes_figures_on_error
def examples_figure(x: torch.Tensor, rows: dict[str, tuple[torch.Tensor, torch.Tensor]], y: torch.Tensor,
                    n: int = 8):
    """Clean digits and their adversarial versions, one row per attack, each image titled with the oracle's label
    (red when it differs from the true label).

    Parameters
    ----------
    x : Tensor
        ``B x C x H x W`` clean images in [0, 1].
    rows : dict
        ``{row title: (B x C x H x W images, B oracle labels)}``; include the clean row to show its labels.
    y : Tensor
        ``B`` true labels.
    n : int
        Columns (images) shown, >= 1.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError("x must be a B x C x H x W tensor of images")
    if not isinstance(y, torch.Tensor) or y.shape != (len(x),):
        raise ValueError(f"y must hold one label per image of x ({len(x)})")
    if not isinstance(rows, dict) or not rows:
        raise ValueError("rows must be a non-empty dict {title: (images, oracle labels)}")
    check_range(n, "n", 1, integer=True)
    n = min(n, len(x))
    for title, pair in rows.items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2 or not isinstance(pair[0], torch.Tensor) \
                or pair[0].shape != x.shape or not isinstance(pair[1], torch.Tensor) or pair[1].shape != y.shape:
            raise ValueError(f"rows[{title!r}] must be (images shaped like x, one label per image)")
    fig, axes = plt.subplots(len(rows), n, figsize=(1.7 * n, 2.0 * len(rows)), squeeze=False)
    for r, (title, (images, labels)) in enumerate(rows.items()):
        for j in range(n):
            ax = axes[r][j]
            ax.imshow(to_numpy_image(images[j]), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            wrong = int(labels[j]) != int(y[j])
            ax.set_title(f"oracle: {int(labels[j])}", fontsize=9, color="red" if wrong else "black")
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(title, fontsize=9)
    fig.tight_layout()
    return fig
