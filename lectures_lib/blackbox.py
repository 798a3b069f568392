"""Black-box attacks (lesson 08): the target as an oracle that only answers queries, a substitute trained
from its labels by Jacobian-based dataset augmentation, adversarial examples crafted on the substitute and
transferred to the oracle, and SimBA, an attack that reads only the oracle's probabilities.

The attacker's view of the target is an :class:`Oracle`: it answers a batch of images with labels (or
probabilities), counts every image it is asked about, refuses inputs that carry gradients, and stops with
:class:`QueryBudgetExceeded` once a budget is spent. The wrapped model is not an attribute of the oracle.

Two threat models, two costs:

- **Transfer** (Papernot et al. 2017): label-only queries train a local substitute once
  (:func:`train_substitute`, a few thousand queries in all); every attack of lesson 06 then runs on the
  substitute, and the oracle is asked once per adversarial image (:func:`transfer_attack`).
- **Score-based** (Guo et al. 2019): :func:`simba` walks along random orthonormal directions and keeps a
  step when the oracle's probability of the true class falls; one or two queries per step, per image.
  :func:`square_attack` (Andriushchenko et al. 2020) changes a random square of the image to a corner of the
  L-infinity ball at each query and keeps it when the margin falls: it uses no gradient, so it is the check
  on a defence that hides its gradients (lesson 09 puts it in every robustness evaluation).

Images are in [0, 1] (normalisation lives in the models); epsilons are on that scale. Every random draw
comes from a generator seeded by the ``seed`` argument.

References
----------
- Papernot, McDaniel, Goodfellow, Jha, Celik and Swami, *Practical Black-Box Attacks against Machine
  Learning*, AsiaCCS 2017, https://arxiv.org/abs/1602.02697 (Jacobian-based augmentation, periodic step).
- Papernot, McDaniel and Goodfellow, *Transferability in Machine Learning: from Phenomena to Black-Box
  Attacks using Adversarial Samples*, 2016, https://arxiv.org/abs/1605.07277 (reservoir sampling).
- Guo, Gardner, You, Wilson and Weinberger, *Simple Black-box Adversarial Attacks*, ICML 2019,
  https://arxiv.org/abs/1905.07121 (SimBA; reference code github.com/cg563/simple-blackbox-attack).
- Andriushchenko, Croce, Flammarion and Hein, *Square Attack: a query-efficient black-box adversarial attack
  via random search*, ECCV 2020, https://arxiv.org/abs/1912.00049 (reference code
  github.com/max-andr/square-attack; one of AutoAttack's four attacks).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import nn

from . import attacks as A
from .config import seeded
from .plumbing import (
    eval_mode,
    input_channels,
    input_gradient,
    logits,
    predicted_classes,
    progress_bar,
)
from .train import evaluate, fit
from .validation import (
    check_choice,
    check_classes,
    check_eps,
    check_flag,
    check_images,
    check_labels,
    check_model,
    check_range,
)

__all__ = [
    "ARCHITECTURES",
    "Oracle",
    "QueryBudgetExceeded",
    "SimBAResult",
    "SubstituteResult",
    "TransferResult",
    "build_substitute",
    "dct_matrix",
    "jacobian_augmentation",
    "periodic_step",
    "query_schedule",
    "simba",
    "simba_directions",
    "square_attack",
    "square_fraction",
    "train_substitute",
    "transfer_attack",
    "transfer_success",
]

ARCHITECTURES = ("mlp", "cnn")


# --------------------------------------------------------------------------- the oracle

class QueryBudgetExceeded(RuntimeError):
    """The oracle's query budget is spent: the query that raised it was not answered (nor counted)."""


class Oracle:
    """The target model as a black-box attacker sees it: a function of images that answers labels
    (``output="label"``) or class probabilities (``output="probabilities"``) and nothing else.

    Parameters
    ----------
    model : callable
        The hidden model: images ``B x C x H x W`` in [0, 1] -> logits ``B x K``. It is kept inside a
        closure, not as an attribute: nothing public leads back to it or to its gradients.
    output : {"label", "probabilities"}
        What a query returns: ``B`` int64 labels, or ``B x K`` softmax probabilities in the dtype of the query.
    budget : int, optional
        The most images the oracle will ever answer (None: no limit). A query that would exceed it raises
        :class:`QueryBudgetExceeded` and is neither answered nor counted.
    batch_size : int
        Images per forward pass inside (does not change answers or counts).

    Attributes
    ----------
    queries : int
        Images answered so far: a batch of ``B`` images counts ``B``.
    remaining : int or None
        ``budget - queries`` (None without a budget).
    output, budget, batch_size
        As given.

    Notes
    -----
    A query whose images require grad is refused (``ValueError``): the answers are computed without
    autograd and carry no gradient, so gradient attacks of lesson 06 cannot be run on an oracle.
    """

    __slots__ = ("_answer", "_queries", "_output", "_budget", "_batch_size")

    def __init__(self, model, output: str = "label", budget: int | None = None, batch_size: int = 256):
        check_model(model)
        if isinstance(model, Oracle):
            raise TypeError("model must be the hidden model (a callable returning logits), got an Oracle")
        check_choice(output, "output", ("label", "probabilities"))
        if budget is not None:
            check_range(budget, "budget", 0, integer=True)
        check_range(batch_size, "batch_size", 1, integer=True)
        channels = input_channels(model)

        def answer(x: torch.Tensor) -> torch.Tensor:
            check_images(x, "x", channels=channels, min_batch=1)
            return logits(model, x, batch_size)  # eval mode, no autograd, on the device and in the dtype of x

        self._answer, self._queries = answer, 0
        self._output, self._budget, self._batch_size = output, budget, batch_size

    @property
    def queries(self) -> int:
        return self._queries

    @property
    def remaining(self) -> int | None:
        return None if self._budget is None else self._budget - self._queries

    @property
    def output(self) -> str:
        return self._output

    @property
    def budget(self) -> int | None:
        return self._budget

    @property
    def batch_size(self) -> int:
        return self._batch_size

    def __repr__(self) -> str:
        budget = "no budget" if self._budget is None else f"budget {self._budget}"
        return f"Oracle(output={self._output!r}, {self._queries} queries, {budget})"

    def _query(self, x) -> torch.Tensor:
        if isinstance(x, torch.Tensor) and x.requires_grad:
            raise ValueError("x requires grad, but the oracle answers queries, never gradients: "
                             "query x.detach() (a black-box attacker cannot differentiate the target)")
        check_images(x, "x", min_batch=1)
        n = x.shape[0]
        if self._budget is not None and self._queries + n > self._budget:
            raise QueryBudgetExceeded(
                f"the oracle's query budget is spent: {self._queries} of {self._budget} queries used, "
                f"and this query asks about {n} more image(s); it was not answered")
        out = self._answer(x)
        self._queries += n
        return out

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Answer a query: ``B`` labels (int64, on the device of ``x``) or ``B x K`` probabilities (in the
        dtype of ``x``), as ``output`` says. Counts ``B`` queries."""
        out = self._query(x)
        return out.argmax(dim=1) if self._output == "label" else out.softmax(dim=1)

    def labels(self, x: torch.Tensor) -> torch.Tensor:
        """The oracle's labels for ``x`` (``B`` int64), whatever ``output`` is. Counts ``B`` queries."""
        return self._query(x).argmax(dim=1)


def _check_oracle(oracle, name: str = "oracle", output: str | None = None) -> Oracle:
    if not isinstance(oracle, Oracle):
        raise TypeError(f"{name} must be an Oracle (blackbox.Oracle(model)), got {type(oracle).__name__}")
    if output is not None and oracle.output != output:
        raise ValueError(f"{name} must answer {output} (Oracle(model, output={output!r})), "
                         f"got an oracle that answers {oracle.output!r}")
    return oracle


# --------------------------------------------------------------------------- the substitute

def build_substitute(architecture: str = "mlp", in_shape: Sequence[int] = (1, 28, 28), num_classes: int = 10) -> nn.Module:
    """An untrained substitute network for images of shape ``in_shape`` in [0, 1].

    Parameters
    ----------
    architecture : {"mlp", "cnn"}
        ``"mlp"``: the substitute of the paper's MNIST tutorial (CleverHans ``mnist_blackbox``): flatten,
        two hidden layers of 200 ReLU units, ``num_classes`` logits; a different family from the LeNet-5
        oracle. ``"cnn"``: conv 32 (3x3) - max-pool - conv 64 (3x3) - max-pool - 128 - ``num_classes``.
    in_shape : (C, H, W)
        The images' shape.
    num_classes : int
        Outputs, >= 2.

    Returns
    -------
    nn.Module
        Build it under ``config.seeded(seed)`` for repeatable initial weights.
    """
    check_choice(architecture, "architecture", ARCHITECTURES)
    if not isinstance(in_shape, Sequence) or len(in_shape) != 3:
        raise ValueError(f"in_shape must be (C, H, W), got {in_shape!r}")
    c, h, w = (check_range(s, "in_shape", 1, integer=True) for s in in_shape)
    check_range(num_classes, "num_classes", 2, integer=True)
    if architecture == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, 200), nn.ReLU(), nn.Linear(200, 200), nn.ReLU(),
                             nn.Linear(200, num_classes))
    return nn.Sequential(nn.Conv2d(c, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(64 * (h // 4) * (w // 4), 128), nn.ReLU(), nn.Linear(128, num_classes))


def jacobian_augmentation(substitute, x: torch.Tensor, y, *, lam: float = 0.1, batch_size: int = 256) -> torch.Tensor:
    """One step of Jacobian-based dataset augmentation (Papernot et al. 2017, section 4.2): for each point,
    a new point one signed step along the gradient of the substitute's probability for the oracle's label,

        x_new = clamp(x + lam * sign(d F_y(x) / dx), 0, 1),    F = softmax of the substitute's logits.

    The new points lie where the substitute's output changes fastest: asking the oracle about them teaches
    the substitute the oracle's decision boundaries with few queries. (Images stay in [0, 1]; the paper's
    features are unbounded.)

    Parameters
    ----------
    substitute : callable
        Images ``B x C x H x W`` in [0, 1] -> logits ``B x K``; run in eval mode.
    x : Tensor
        ``B x C x H x W`` images in [0, 1], at least one.
    y : Tensor or int
        ``B`` labels in [0, K): the oracle's labels of ``x``.
    lam : float
        The step, in [-1, 1] (the paper's lambda = 0.1; negative under the periodic step, :func:`periodic_step`).
    batch_size : int
        Images per gradient pass (does not change the result).

    Returns
    -------
    Tensor
        ``B x C x H x W`` in [0, 1], on the device and in the dtype of ``x``.
    """
    check_model(substitute, "substitute")
    check_images(x, "x", channels=input_channels(substitute), min_batch=1)
    y = check_labels(y, x.shape[0], None, "y").to(x.device)
    lam = float(check_range(lam, "lam", -1.0, 1.0))
    check_range(batch_size, "batch_size", 1, integer=True)

    def probability_of_label(out: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        check_classes(yb, out.shape[1], "y")
        return out.softmax(dim=1).gather(1, yb[:, None]).sum()

    with eval_mode(substitute):
        grad = input_gradient(substitute, x, probability_of_label, y, batch_size=batch_size)
    return (x.detach() + lam * grad.sign()).clamp(0.0, 1.0)


def periodic_step(lam: float, rho: int, tau: int | None = 3) -> float:
    """The paper's periodic step size: ``lam_rho = lam * (-1) ** floor(rho / tau)`` for the augmentation
    after substitute round ``rho`` (Papernot et al. 2017, section 6.1). Flipping the direction every ``tau``
    rounds keeps the synthetic points from drifting ever further from the seed images.

    Parameters
    ----------
    lam : float
        The step size, finite.
    rho : int
        The substitute round (0-based), >= 0.
    tau : int, optional
        The period in rounds (>= 1); None keeps ``lam`` in every round.

    Returns
    -------
    float
    """
    lam = float(check_range(lam, "lam"))
    check_range(rho, "rho", 0, integer=True)
    if tau is None:
        return lam
    check_range(tau, "tau", 1, integer=True)
    return lam * (-1) ** (rho // tau)


def query_schedule(n_seed: int, rounds: int, kappa: int | None = None, sigma: int = 3) -> list[int]:
    """Oracle queries spent by :func:`train_substitute`, cumulated after each round's labelling.

    Round 0 labels the ``n_seed`` seed images; before each later round, every point of the training set gets
    one augmented copy (the set doubles), except that with reservoir sampling (``kappa``), the augmentations
    made after round ``sigma`` or later take only ``kappa`` points (drawn uniformly) of the set (Papernot,
    McDaniel and Goodfellow 2016). Each new point costs one query.

    Parameters
    ----------
    n_seed : int
        Seed images, >= 1.
    rounds : int
        Substitute rounds, >= 1.
    kappa : int, optional
        New points per augmentation from round ``sigma`` on (>= 1); None: always double.
    sigma : int
        The first round whose augmentation is limited to ``kappa`` points (>= 0).

    Returns
    -------
    list of int
        ``rounds`` cumulative counts; e.g. ``query_schedule(150, 6) == [150, 300, 600, 1200, 2400, 4800]``.
    """
    check_range(n_seed, "n_seed", 1, integer=True)
    check_range(rounds, "rounds", 1, integer=True)
    if kappa is not None:
        check_range(kappa, "kappa", 1, integer=True)
    check_range(sigma, "sigma", 0, integer=True)
    size, total, counts = n_seed, n_seed, [n_seed]
    for rho in range(rounds - 1):
        new = size if kappa is None or rho < sigma else min(kappa, size)
        size, total = size + new, total + new
        counts.append(total)
    return counts


class SubstituteResult(NamedTuple):
    """What :func:`train_substitute` returns."""
    model: nn.Module        # the trained substitute, in eval mode
    history: list[dict]     # one dict per round (see train_substitute)
    x_train: torch.Tensor   # N x C x H x W: the seed images and every synthetic point, in order of creation
    y_train: torch.Tensor   # N int64: the oracle's label of each
    parents: torch.Tensor   # N int64: the index of the point each was made from (-1 for a seed image)


def _resolve_architecture(architecture, in_shape, num_classes) -> nn.Module:
    if isinstance(architecture, str):
        return build_substitute(architecture, in_shape, num_classes)
    if isinstance(architecture, nn.Module) or not callable(architecture):
        raise TypeError(f"architecture must be one of {ARCHITECTURES} or a function of no arguments returning a new "
                        f"nn.Module, got {type(architecture).__name__}")
    model = architecture()
    if not isinstance(model, nn.Module):
        raise TypeError(f"architecture() must return an nn.Module, got {type(model).__name__}")
    return model


def _check_holdout(holdout, holdout_oracle_labels, channels):
    if holdout is None:
        if holdout_oracle_labels is not None:
            raise ValueError("holdout_oracle_labels needs holdout: the images they label")
        return None, None, None
    if not isinstance(holdout, (tuple, list)) or len(holdout) != 2:
        raise ValueError("holdout must be a pair (x, y) of held-out images and their true labels")
    xh, yh = holdout
    check_images(xh, "holdout", channels=channels, min_batch=1)
    yh = check_labels(yh, xh.shape[0], None, "holdout's labels")
    if holdout_oracle_labels is not None:
        holdout_oracle_labels = check_labels(holdout_oracle_labels, xh.shape[0], None, "holdout_oracle_labels")
    return xh, yh, holdout_oracle_labels


def train_substitute(oracle: Oracle, seed_images: torch.Tensor, architecture: str | Callable[[], nn.Module] = "mlp", *,
                     rounds: int = 6, lam: float = 0.1, tau: int | None = 3, kappa: int | None = None, sigma: int = 3,
                     epochs: int = 10, lr: float = 1e-3, batch_size: int = 128, num_classes: int = 10,
                     holdout=None, holdout_oracle_labels=None, seed: int = 0,
                     progress: bool = True) -> SubstituteResult:
    """Train a substitute of a black-box ``oracle`` from its labels alone (Papernot et al. 2017, algorithm 1).

    Round ``rho = 0 .. rounds - 1``: label the new points with the oracle (round 0: the seed images), train
    the substitute on every labelled point so far (``epochs`` epochs of :func:`lectures_lib.train.fit`, Adam,
    continuing from the previous round's weights), then, unless it is the last round, create one new point
    per point with :func:`jacobian_augmentation` at step :func:`periodic_step` ``(lam, rho, tau)``:

        S_{rho+1} = S_rho  U  { clamp(x + lam_rho * sign(dF_{O(x)}(x) / dx), 0, 1) : x in S_rho }

    The defaults are the paper's MNIST tutorial (CleverHans ``mnist_blackbox``): 150 seed images, 6 rounds,
    lambda 0.1 flipping sign every 3 rounds, 10 epochs per round, Adam at 1e-3, batch 128, a 200-200 MLP;
    with 150 seeds that is 4,800 queries (:func:`query_schedule`). Unlike the tutorial, the seed images are
    labelled by the oracle too (the attacker has images, not labels).

    Parameters
    ----------
    oracle : Oracle
        The black box (label or probability output; only its labels are used).
    seed_images : Tensor
        ``N x C x H x W`` in [0, 1], at least one: the attacker's few unlabelled images.
    architecture : {"mlp", "cnn"} or callable
        A name for :func:`build_substitute`, or a function of no arguments returning a new ``nn.Module``
        (called under ``config.seeded(seed)``).
    rounds : int
        Substitute rounds, >= 1 (the paper's rho + 1).
    lam : float
        Augmentation step in (0, 1].
    tau : int, optional
        Period of the sign flip (:func:`periodic_step`); None: never flip.
    kappa, sigma : int
        Reservoir sampling: from round ``sigma`` on, only ``kappa`` points (uniformly drawn) get an augmented copy;
        ``kappa=None`` doubles the set every round (:func:`query_schedule`).
    epochs, lr, batch_size : int, float, int
        Training per round (:func:`lectures_lib.train.fit` with a constant learning rate).
    num_classes : int
        The oracle's number of classes (the substitute's outputs).
    holdout : (Tensor, Tensor), optional
        Held-out images and their true labels: each round reports the substitute's accuracy on them.
    holdout_oracle_labels : Tensor, optional
        The oracle's labels of the holdout images, measured by the experimenter (not queries of the
        attacker): each round then reports the substitute's agreement with the oracle.
    seed : int
        Seeds the initial weights, the shuffling of each round and the reservoir draws.
    progress : bool
        Show a progress bar over rounds.

    Returns
    -------
    SubstituteResult
        ``model`` (eval mode), ``history`` (per round: ``round``, ``train_size``, ``queries`` (cumulative, exact),
        ``lam`` (the step that made this round's new points; None in round 0), ``train_accuracy``,
        ``substitute_accuracy`` and ``agreement`` (None without holdout / oracle labels)), and the training
        set ``x_train`` (dtype of ``seed_images``), ``y_train`` and ``parents``.
    """
    _check_oracle(oracle)
    check_images(seed_images, "seed_images", min_batch=1)
    check_range(rounds, "rounds", 1, integer=True)
    lam = float(check_range(lam, "lam", 0.0, 1.0, low_inclusive=False))
    if tau is not None:
        check_range(tau, "tau", 1, integer=True)
    if kappa is not None:
        check_range(kappa, "kappa", 1, integer=True)
    check_range(sigma, "sigma", 0, integer=True)
    check_range(epochs, "epochs", 1, integer=True)
    check_range(lr, "lr", 0.0, low_inclusive=False)
    check_range(batch_size, "batch_size", 1, integer=True)
    check_range(num_classes, "num_classes", 2, integer=True)
    check_range(seed, "seed", 0, integer=True)
    check_flag(progress, "progress")
    with seeded(seed):
        model = _resolve_architecture(architecture, tuple(seed_images.shape[1:]), num_classes)
    check_images(seed_images, "seed_images", channels=input_channels(model))
    xh, yh, oracle_h = _check_holdout(holdout, holdout_oracle_labels, input_channels(model))
    gen = torch.Generator().manual_seed(seed)
    start = oracle.queries
    x_train = seed_images.detach().clone()
    y_train = oracle.labels(x_train)
    parents = torch.full((len(x_train),), -1, dtype=torch.long)
    history = []
    with progress_bar(rounds, "substitute rounds", progress, "round") as bar:
        for rho in range(rounds):
            step = None
            if rho > 0:
                step = periodic_step(lam, rho - 1, tau)
                n = len(x_train)
                take = (torch.arange(n) if kappa is None or rho - 1 < sigma
                        else torch.randperm(n, generator=gen)[:kappa].sort().values)
                x_new = jacobian_augmentation(model, x_train[take.to(x_train.device)], y_train[take.to(y_train.device)],
                                              lam=step)
                x_train = torch.cat([x_train, x_new])
                y_train = torch.cat([y_train, oracle.labels(x_new)])
                parents = torch.cat([parents, take])
            fit_history = fit(model, (x_train, y_train), epochs=epochs, lr=lr, batch_size=batch_size,
                              lr_schedule=None, seed=seed + rho, progress=False)
            row = {"round": rho, "train_size": len(x_train), "queries": oracle.queries - start, "lam": step,
                   "train_accuracy": fit_history[-1]["train_acc"], "substitute_accuracy": None, "agreement": None}
            if xh is not None:
                row["substitute_accuracy"] = evaluate(model, (xh, yh), batch_size=1024)["top1"]
                if oracle_h is not None:
                    pred = predicted_classes(model, xh, 1024).cpu()
                    row["agreement"] = (pred == oracle_h.cpu()).double().mean().item()
            history.append(row)
            bar.update(1)
    return SubstituteResult(model.eval(), history, x_train, y_train, parents)


# --------------------------------------------------------------------------- transfer

class TransferResult(NamedTuple):
    """What :func:`transfer_attack` found."""
    x_adv: torch.Tensor          # B x C x H x W: crafted on the substitute
    oracle_labels: torch.Tensor  # B int64: the oracle's labels of x_adv
    fooled: torch.Tensor         # B bool: the oracle's label differs from y
    success_rate: float          # fooled.mean(): the paper's "success rate" (misclassification rate)
    queries: int                 # oracle queries spent by this call


def _attack(attack) -> Callable:
    if isinstance(attack, str):
        return A.named_attack(attack)
    if not callable(attack):
        raise TypeError(f"attack must be one of {A.ATTACKS} or a function (model, x, y, eps) -> x_adv, "
                        f"got {type(attack).__name__}")
    return attack


def transfer_attack(oracle: Oracle, substitute, x: torch.Tensor, y=None, *, attack: str | Callable = "fgsm",
                    eps: float, batch_size: int = 256) -> TransferResult:
    """Craft adversarial examples on the ``substitute`` with an attack of lesson 06 and try them on the
    ``oracle`` (Papernot et al. 2017, section 5): transferability turns a white-box attack on a local copy
    into a black-box attack on the target.

    Parameters
    ----------
    oracle : Oracle
        The black box (label or probability output).
    substitute : callable
        The attacker's model: images -> logits (e.g. :func:`train_substitute`'s ``model``).
    x : Tensor
        ``B x C x H x W`` images in [0, 1], at least one.
    y : Tensor or int, optional
        ``B`` true labels: the attack moves away from them on the substitute, and the oracle is fooled where
        its label differs from them. None: the oracle's labels of the clean ``x`` (``B`` more queries).
    attack : str or callable
        A name of :data:`lectures_lib.attacks.ATTACKS` (``"fgsm"``, ``"iterative"``, ``"least_likely"``,
        ``"pgd"``) or a function ``(model, x, y, eps) -> x_adv``.
    eps : float
        L-infinity budget in [0, 1] (the paper: 0.3 on MNIST).
    batch_size : int
        Images per oracle query.

    Returns
    -------
    TransferResult
        ``x_adv`` (dtype and device of ``x``), ``oracle_labels``, ``fooled``, ``success_rate`` and ``queries``
        (``B``, or ``2 B`` when ``y`` is None).
    """
    _check_oracle(oracle)
    check_model(substitute, "substitute")
    check_images(x, "x", channels=input_channels(substitute), min_batch=1)
    attack_fn = _attack(attack)
    eps = check_eps(eps)
    check_range(batch_size, "batch_size", 1, integer=True)
    start = oracle.queries
    x = x.detach()
    y = _oracle_labels(oracle, x, batch_size) if y is None else check_labels(y, x.shape[0], None, "y").to(x.device)
    x_adv = x.clone() if eps == 0 else attack_fn(substitute, x, y, eps)
    if not isinstance(x_adv, torch.Tensor) or x_adv.shape != x.shape:
        got = tuple(x_adv.shape) if isinstance(x_adv, torch.Tensor) else type(x_adv).__name__
        raise ValueError(f"attack must return images of the shape of x {tuple(x.shape)}, got {got}")
    check_images(x_adv, "the images the attack returned")
    labels = _oracle_labels(oracle, x_adv.detach(), batch_size)
    fooled = labels != y
    return TransferResult(x_adv.detach(), labels, fooled, fooled.double().mean().item(), oracle.queries - start)


def _oracle_labels(oracle: Oracle, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """The oracle's labels of ``x``, asked ``batch_size`` images at a time."""
    return torch.cat([oracle.labels(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)])


def transfer_success(oracle: Oracle, substitute, x: torch.Tensor, y, *, eps_values: Sequence[float],
                     attacks: Sequence[str] = ("fgsm", "pgd"), progress: bool = True) -> dict[str, dict]:
    """:func:`transfer_attack` for every attack and epsilon: the lesson's transfer curves.

    Parameters
    ----------
    oracle, substitute, x, y
        As in :func:`transfer_attack` (``y``: true labels, required).
    eps_values : sequence of float
        Epsilons in [0, 1], at least one.
    attacks : sequence of str
        Names in :data:`lectures_lib.attacks.ATTACKS`.
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict
        ``{attack: {"eps": [...], "success": [...], "oracle_accuracy": [...]}}``; success is the oracle's
        misclassification rate on the transferred images, oracle accuracy the fraction it still labels ``y``.
    """
    _check_oracle(oracle)
    check_images(x, "x", min_batch=1)
    y = check_labels(y, x.shape[0], None, "y")
    if isinstance(eps_values, (str, bytes)) or not isinstance(eps_values, Sequence) or not eps_values:
        raise ValueError(f"eps_values must be a non-empty sequence of epsilons in [0, 1], got {eps_values!r}")
    eps_values = [check_eps(e, "eps_values") for e in eps_values]
    if isinstance(attacks, str) or not isinstance(attacks, Sequence) or not attacks:
        raise ValueError(f"attacks must be a non-empty sequence of names in {A.ATTACKS}, got {attacks!r}")
    for name in attacks:
        check_choice(name, "attacks", A.ATTACKS)
    curves = {}
    with progress_bar(len(attacks) * len(eps_values), "transfer", progress) as bar:
        for name in attacks:
            success = []
            for eps in eps_values:
                success.append(transfer_attack(oracle, substitute, x, y, attack=name, eps=eps).success_rate)
                bar.update(1)
            curves[name] = {"eps": list(eps_values), "success": success, "oracle_accuracy": [1 - s for s in success]}
    return curves


# --------------------------------------------------------------------------- SimBA

def dct_matrix(n: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The orthonormal DCT-II matrix ``D`` (``n x n``): ``D[k, i] = a_k cos(pi (2 i + 1) k / (2 n))`` with
    ``a_0 = sqrt(1 / n)``, ``a_k = sqrt(2 / n)``. Its rows are cosines of rising frequency; ``D @ D.T = I``, so
    the image ``outer(D[k], D[l])`` is a unit-norm direction of frequency ``(k, l)`` (scipy's
    ``idct(norm="ortho")`` of a one-hot vector).

    Parameters
    ----------
    n : int
        Size, >= 1.
    dtype : torch.dtype
        A floating dtype.

    Returns
    -------
    Tensor
        ``n x n``.
    """
    check_range(n, "n", 1, integer=True)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
    k = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(n, dtype=torch.float64)[None, :]
    d = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    d[0] /= math.sqrt(2.0)
    return d.to(dtype)


def simba_directions(index: torch.Tensor, shape: Sequence[int], basis: str = "pixel",
                     freq_dims: int | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The orthonormal search directions of SimBA, by index: ``index[b]`` picks one basis image per row.

    Parameters
    ----------
    index : Tensor
        ``B`` int64 in ``[0, number of directions)``: ``C * H * W`` for ``"pixel"``, ``C * f * f`` for ``"dct"``.
    shape : (C, H, W)
        The images' shape (H == W for ``"dct"``).
    basis : {"pixel", "dct"}
        ``"pixel"``: one-hot images (the pixel at ``index`` in ``C x H x W`` order). ``"dct"``: the 2-D DCT basis
        image ``outer(D[k], D[l])`` in channel ``c`` for ``index = (c * f + k) * f + l``, over the ``f x f``
        lowest frequencies (SimBA-DCT).
    freq_dims : int, optional
        ``f`` for ``"dct"`` (default ``H``: every frequency).
    dtype : torch.dtype
        Of the result.

    Returns
    -------
    Tensor
        ``B x C x H x W``, each of unit L2 norm, on the device of ``index``.
    """
    c, h, w = shape
    if basis == "pixel":
        out = torch.zeros(index.shape[0], c * h * w, dtype=dtype, device=index.device)
        out.scatter_(1, index[:, None], 1.0)
        return out.view(-1, c, h, w)
    f = freq_dims or h
    d = dct_matrix(h, dtype).to(index.device)
    ch, rest = index // (f * f), index % (f * f)
    row, col = rest // f, rest % f
    out = torch.zeros(index.shape[0], c, h, w, dtype=dtype, device=index.device)
    out[torch.arange(index.shape[0], device=index.device), ch] = d[row][:, :, None] * d[col][:, None, :]
    return out


class SimBAResult(NamedTuple):
    """What :func:`simba` found, per image."""
    x_adv: torch.Tensor          # B x C x H x W: the last accepted iterate
    success: torch.Tensor        # B bool: untargeted, the oracle's label differs from y; targeted, it equals y
    queries: torch.Tensor        # B int64: oracle queries spent on each image (the first query included)
    oracle_labels: torch.Tensor  # B int64: the oracle's label of x_adv (read from the last answer, no extra query)
    probability: torch.Tensor    # B: the oracle's probability of y for x_adv


def simba(oracle: Oracle, x: torch.Tensor, y=None, *, eps: float = 0.2, max_queries: int = 2_000,
          basis: str = "pixel", freq_dims: int | None = None, targeted: bool = False, seed: int = 0,
          progress: bool = True) -> SimBAResult:
    """SimBA, the simple black-box attack (Guo et al. 2019), which reads only the oracle's probabilities.

    For each image, in a random order of orthonormal directions ``q`` (pixels, or low-frequency DCT images):

        try x - eps q: keep it if p_y falls (targeted: rises); otherwise try x + eps q, keep it if p_y falls;
        stop when the oracle's label is no longer y (targeted: is y), or the image's queries run out.

    Each step costs one query, or two when the first side does not help; the prediction is read from the
    returned probabilities, so success costs no extra query. The directions are orthonormal and each is
    used once in a pass (a new random order starts the next pass), so within a pass ``T`` accepted steps give
    ``|delta|_2 <= eps sqrt(T)`` and, in the pixel basis, ``|delta|_inf <= eps``. The batch is queried
    together; every image has its own random order, drawn from ``seed``.

    Parameters
    ----------
    oracle : Oracle
        Answers probabilities (``Oracle(model, output="probabilities")``).
    x : Tensor
        ``B x C x H x W`` images in [0, 1], at least one.
    y : Tensor or int, optional
        ``B`` true labels (untargeted) or targets (targeted); None: the oracle's label of ``x`` (read from the
        first query; untargeted only).
    eps : float
        Step along each direction, in (0, 1] (the reference code's 0.2).
    max_queries : int
        Queries per image at most, >= 1 (the first one included).
    basis : {"pixel", "dct"}
        SimBA (pixels) or SimBA-DCT (the ``freq_dims x freq_dims`` lowest frequencies per channel; square images).
    freq_dims : int, optional
        For ``"dct"``: in [1, H]; default ``H // 2``.
    targeted : bool
        Raise the probability of the target ``y`` until it is the oracle's label.
    seed : int
        Seeds the random order of directions.
    progress : bool
        Show a progress bar over steps.

    Returns
    -------
    SimBAResult
        ``x_adv`` (dtype and device of ``x``), ``success``, ``queries``, ``oracle_labels`` and ``probability``.
        Summed over images, ``queries`` equals the growth of ``oracle.queries``.
    """
    _check_oracle(oracle, output="probabilities")
    check_images(x, "x", min_batch=1)
    eps = float(check_range(eps, "eps", 0.0, 1.0, low_inclusive=False))
    check_range(max_queries, "max_queries", 1, integer=True)
    check_choice(basis, "basis", ("pixel", "dct"))
    check_flag(targeted, "targeted")
    check_range(seed, "seed", 0, integer=True)
    check_flag(progress, "progress")
    b, c, h, w = x.shape
    if basis == "dct":
        if h != w:
            raise ValueError(f"x must hold square images for the DCT basis, got shape {tuple(x.shape)}")
        freq_dims = h // 2 if freq_dims is None else check_range(freq_dims, "freq_dims", 1, h, integer=True)
    elif freq_dims is not None:
        raise ValueError("freq_dims is for basis='dct' only")
    if y is None and targeted:
        raise ValueError("y is required for a targeted attack: the class to move each image toward")
    n_dirs = c * h * w if basis == "pixel" else c * freq_dims * freq_dims
    gen = torch.Generator().manual_seed(seed)

    x_cur = x.detach().clone()
    probs = oracle(x_cur)
    queries = torch.ones(b, dtype=torch.long)
    y = probs.argmax(dim=1) if y is None else check_labels(y, b, probs.shape[1], "y").to(x.device)
    rows = torch.arange(b, device=x.device)
    p_y = probs[rows, y]

    def succeeded(p: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (p.argmax(dim=1) == target) if targeted else (p.argmax(dim=1) != target)

    def better(p_new: torch.Tensor, p_old: torch.Tensor) -> torch.Tensor:
        return p_new > p_old if targeted else p_new < p_old

    order = torch.stack([torch.randperm(n_dirs, generator=gen) for _ in range(b)])
    step = 0
    active = (~succeeded(probs, y)).cpu() & (queries < max_queries)
    with progress_bar(max_queries - 1, "SimBA", progress, "step") as bar:
        while active.any():
            if step > 0 and step % n_dirs == 0:  # a new pass: a fresh random order
                order = torch.stack([torch.randperm(n_dirs, generator=gen) for _ in range(b)])
            idx = active.nonzero().squeeze(1)
            q = simba_directions(order[idx, step % n_dirs], (c, h, w), basis, freq_dims, x.dtype).to(x.device)
            dev_idx = idx.to(x.device)
            left = (x_cur[dev_idx] - eps * q).clamp(0.0, 1.0)
            p_left = oracle(left)
            queries[idx] += 1
            keep_left = better(p_left[torch.arange(len(idx), device=x.device), y[dev_idx]], p_y[dev_idx])
            accept, p_accept = left, p_left
            try_right = (~keep_left).cpu() & (queries[idx] < max_queries)
            if try_right.any():
                r = try_right.nonzero().squeeze(1)
                r_dev = r.to(x.device)
                right = (x_cur[dev_idx[r_dev]] + eps * q[r_dev]).clamp(0.0, 1.0)
                p_right = oracle(right)
                queries[idx[r]] += 1
                keep_right = better(p_right[torch.arange(len(r), device=x.device), y[dev_idx[r_dev]]], p_y[dev_idx[r_dev]])
                accept, p_accept = accept.clone(), p_accept.clone()
                accept[r_dev[keep_right]], p_accept[r_dev[keep_right]] = right[keep_right], p_right[keep_right]
                keep_left = keep_left.clone()
                keep_left[r_dev[keep_right]] = True
            moved = dev_idx[keep_left]
            x_cur[moved] = accept[keep_left]
            probs[moved] = p_accept[keep_left]
            p_y[moved] = probs[moved, y[moved]]
            active = (~succeeded(probs, y)).cpu() & (queries < max_queries)
            step += 1
            bar.update(1)
    return SimBAResult(x_cur, succeeded(probs, y), queries.to(x.device), probs.argmax(dim=1), p_y)


# --------------------------------------------------------------------------- Square attack

def square_fraction(query: int, max_queries: int, p_init: float = 0.8) -> float:
    """The fraction of the pixels the Square attack changes at a query: ``p_init``, halved at the reference
    code's milestones (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000 of 10,000 queries, rescaled to
    ``max_queries``).

    Parameters
    ----------
    query : int
        The step, ``0 <= query < max_queries``.
    max_queries : int
        The attack's query budget per image, >= 1.
    p_init : float
        The first fraction, in (0, 1].

    Returns
    -------
    float
        ``p_init / 2**k`` for the number ``k`` of milestones passed.
    """
    check_range(max_queries, "max_queries", 1, integer=True)
    check_range(query, "query", 0, max_queries - 1, integer=True)
    check_range(p_init, "p_init", 0.0, 1.0, low_inclusive=False)
    it = int(query / max_queries * 10_000)
    halvings = sum(it > m for m in (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000))
    return p_init / 2 ** halvings


def square_attack(oracle: Oracle, x: torch.Tensor, y=None, *, eps: float, max_queries: int = 5_000,
                  p_init: float = 0.8, seed: int = 0, progress: bool = True) -> SimBAResult:
    """The L-infinity Square attack (Andriushchenko et al. 2020): random search that reads only the oracle's
    probabilities, with the margin ``L(x) = log p_y(x) - max_{j != y} log p_j(x)`` (negative once fooled).

        start: x_0 = clip(x + eps * s), s = one random sign per image, channel and column (vertical stripes),
               kept if it lowers L (else x_0 = x)
        step k: a random square of side h_k = round(sqrt(p_k * H * W)) at a random place; on it every channel
                moves to x +- 2 eps (one random sign per channel), projected back onto |x' - x|_inf <= eps
                and [0, 1]; keep it if L falls (a corner of the ball, so each step moves as far as allowed)
        stop when the label changes or the image's queries run out

    ``p_k`` (:func:`square_fraction`) starts at ``p_init`` and halves as the attack goes on, so squares shrink
    from most of the image to single pixels. The result always lies in the ball: ``|x_adv - x|_inf <= eps``.
    As in AutoAttack's copy of the reference code, a step whose signs change nothing is not redrawn (it costs a
    query); every square position is drawn, the last row and column included.

    Parameters
    ----------
    oracle : Oracle
        Answers probabilities (``Oracle(model, output="probabilities")``).
    x : Tensor
        ``B x C x H x W`` images in [0, 1], at least one.
    y : Tensor or int, optional
        ``B`` true labels; None: the oracle's label of ``x`` (the first query).
    eps : float
        The L-infinity radius, in (0, 1].
    max_queries : int
        Queries per image at most, >= 2 (the first two are the clean image and the striped start).
    p_init : float
        The first fraction of pixels a square covers, in (0, 1] (AutoAttack's 0.8).
    seed : int
        Seeds the stripes, squares and signs.
    progress : bool
        Show a progress bar over steps.

    Returns
    -------
    SimBAResult
        ``x_adv`` (the best iterate, dtype and device of ``x``), ``success`` (label no longer ``y``),
        ``queries`` per image (summed, the growth of ``oracle.queries``), ``oracle_labels`` and ``probability``
        (of ``y`` at ``x_adv``).
    """
    _check_oracle(oracle, output="probabilities")
    check_images(x, "x", min_batch=1)
    eps = float(check_range(eps, "eps", 0.0, 1.0, low_inclusive=False))
    check_range(max_queries, "max_queries", 2, integer=True)
    p_init = float(check_range(p_init, "p_init", 0.0, 1.0, low_inclusive=False))
    check_range(seed, "seed", 0, integer=True)
    check_flag(progress, "progress")
    b, c, h, w = x.shape
    gen = torch.Generator().manual_seed(seed)
    x = x.detach()
    rows = torch.arange(b, device=x.device)

    def margin(probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logp = probs.clamp_min(1e-30).log()
        true = logp[torch.arange(len(labels), device=x.device), labels]
        return true - logp.scatter(1, labels[:, None], float("-inf")).amax(dim=1)

    probs = oracle(x)
    y = probs.argmax(dim=1) if y is None else check_labels(y, b, probs.shape[1], "y").to(x.device)
    queries = torch.ones(b, dtype=torch.long)
    stripes = (torch.randint(0, 2, (b, c, 1, w), generator=gen, dtype=x.dtype) * 2 - 1).to(x.device)
    x_best = (x + eps * stripes).clamp(0.0, 1.0)
    start = margin(probs, y) > 0
    idx = start.nonzero().squeeze(1)            # already fooled clean images keep x (no extra query)
    x_best[~start] = x[~start]
    if len(idx):
        p_start = oracle(x_best[idx])
        queries[idx.cpu()] += 1
        better = margin(p_start, y[idx]) < margin(probs[idx], y[idx])
        probs[idx[better]] = p_start[better]
        x_best[idx[~better]] = x[idx[~better]]
    loss = margin(probs, y)
    active = (loss > 0).cpu() & (queries < max_queries)
    with progress_bar(max_queries - 2, "Square attack", progress, "step") as bar:
        for step in range(max_queries - 2):
            if not active.any():
                break
            idx = active.nonzero().squeeze(1).to(x.device)
            n = len(idx)
            side = min(h, w, max(1, round(math.sqrt(square_fraction(step, max_queries, p_init) * h * w))))
            top = torch.randint(0, h - side + 1, (n,), generator=gen)
            left = torch.randint(0, w - side + 1, (n,), generator=gen)
            signs = (torch.randint(0, 2, (n, c), generator=gen, dtype=x.dtype) * 2 - 1).to(x.device)
            ys, xs = torch.arange(h)[None, :], torch.arange(w)[None, :]
            window = (((ys >= top[:, None]) & (ys < top[:, None] + side))[:, :, None]
                      & ((xs >= left[:, None]) & (xs < left[:, None] + side))[:, None, :]).to(x.device)
            candidate = torch.where(window[:, None], x_best[idx] + 2 * eps * signs[:, :, None, None], x_best[idx])
            candidate = torch.minimum(torch.maximum(candidate, x[idx] - eps), x[idx] + eps).clamp(0.0, 1.0)
            p_new = oracle(candidate)
            queries[idx.cpu()] += 1
            new_loss = margin(p_new, y[idx])
            keep = new_loss < loss[idx]
            x_best[idx[keep]], probs[idx[keep]], loss[idx[keep]] = candidate[keep], p_new[keep], new_loss[keep]
            active = (loss > 0).cpu() & (queries < max_queries)
            bar.update(1)
    return SimBAResult(x_best, probs.argmax(dim=1) != y, queries.to(x.device), probs.argmax(dim=1), probs[rows, y])
