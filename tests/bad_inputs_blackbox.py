"""Bad-input cases for lesson 08 (``lectures_lib.blackbox`` and its figures in ``plotting.blackbox``): each call
has one bad argument and must raise a clear error naming it (see ``bad_inputs.py``)."""
from __future__ import annotations

import torch
from bad_inputs import BAD_IMAGES, Case, images, labels, tiny_cnn

from lectures_lib import blackbox as B
from lectures_lib.plotting import blackbox as PB

NAN, INF = float("nan"), float("inf")
CASES: list[Case] = []


def add(id: str, names: str, call) -> None:
    CASES.append(Case(id, call, names))


def oracle(output: str = "label", **kw) -> B.Oracle:
    return B.Oracle(tiny_cnn(), output=output, **kw)


# --------------------------------------------------------------------------- every bad image, every method
IMAGE_METHODS = {
    "blackbox.Oracle.__call__": ("x", lambda x: oracle()(x)),
    "blackbox.Oracle.labels": ("x", lambda x: oracle("probabilities").labels(x)),
    "blackbox.jacobian_augmentation": ("x", lambda x: B.jacobian_augmentation(tiny_cnn(), x, labels())),
    "blackbox.train_substitute": ("seed_images", lambda x: B.train_substitute(oracle(), x, "mlp", rounds=1, epochs=1,
                                                                              progress=False)),
    "blackbox.transfer_attack": ("x", lambda x: B.transfer_attack(oracle(), tiny_cnn(), x, labels(), eps=0.1)),
    "blackbox.simba": ("x", lambda x: B.simba(oracle("probabilities"), x, labels(), max_queries=3, progress=False)),
    "blackbox.square_attack": ("x", lambda x: B.square_attack(oracle("probabilities"), x, labels(), eps=0.1,
                                                              max_queries=3, progress=False)),
}
for fn, (arg, call) in IMAGE_METHODS.items():
    for why, bad in BAD_IMAGES.items():
        if why == "wrong channels" and fn in ("blackbox.simba", "blackbox.square_attack", "blackbox.train_substitute"):
            continue  # the oracle's model and the substitute decide the channels: covered below
        add(f"{fn}: {arg} is {why}", arg, lambda call=call, bad=bad: call(bad()))
add("blackbox.simba: x has the wrong channels for the oracle", "x",
    lambda: B.simba(oracle("probabilities"), images(channels=3), labels(), max_queries=3, progress=False))

# --------------------------------------------------------------------------- Oracle
add("blackbox.Oracle: model is a string", "model", lambda: B.Oracle("lenet5"))
add("blackbox.Oracle: model is None", "model", lambda: B.Oracle(None))
add("blackbox.Oracle: model is an Oracle", "model", lambda: B.Oracle(oracle()))
add("blackbox.Oracle: output is 'logits'", "output", lambda: B.Oracle(tiny_cnn(), output="logits"))
add("blackbox.Oracle: output is None", "output", lambda: B.Oracle(tiny_cnn(), output=None))
for why, v in (("negative", -1), ("a float", 10.5), ("a string", "100"), ("True", True)):
    add(f"blackbox.Oracle: budget is {why}", "budget", lambda v=v: B.Oracle(tiny_cnn(), budget=v))
for why, v in (("0", 0), ("NaN", NAN), ("a float", 2.5)):
    add(f"blackbox.Oracle: batch_size is {why}", "batch_size", lambda v=v: B.Oracle(tiny_cnn(), batch_size=v))
add("blackbox.Oracle: x requires grad", "x", lambda: oracle()(images().requires_grad_(True)))
add("blackbox.Oracle: model returns images, not logits", "model", lambda: B.Oracle(lambda x: x)(images()))

# --------------------------------------------------------------------------- build_substitute
add("blackbox.build_substitute: architecture is 'resnet'", "architecture", lambda: B.build_substitute("resnet"))
add("blackbox.build_substitute: in_shape has two entries", "in_shape", lambda: B.build_substitute("mlp", (28, 28)))
add("blackbox.build_substitute: in_shape has a zero", "in_shape", lambda: B.build_substitute("mlp", (1, 0, 28)))
add("blackbox.build_substitute: num_classes is 1", "num_classes", lambda: B.build_substitute("mlp", num_classes=1))

# --------------------------------------------------------------------------- jacobian_augmentation
jac = lambda **kw: B.jacobian_augmentation(**{"substitute": tiny_cnn(), "x": images(), "y": labels(), **kw})  # noqa: E731
for why, v in (("NaN", NAN), ("inf", INF), ("above 1", 1.5), ("a string", "0.1"), ("None", None)):
    add(f"blackbox.jacobian_augmentation: lam is {why}", "lam", lambda v=v: jac(lam=v))
for why, v in (("too short", labels(2)), ("out of range", labels() + 10), ("floats", labels().float()),
               ("None", None), ("negative", labels() - 1)):
    add(f"blackbox.jacobian_augmentation: y is {why}", "y", lambda v=v: jac(y=v))
add("blackbox.jacobian_augmentation: substitute is a string", "substitute", lambda: jac(substitute="mlp"))
add("blackbox.jacobian_augmentation: batch_size is 0", "batch_size", lambda: jac(batch_size=0))

# --------------------------------------------------------------------------- periodic_step, query_schedule
add("blackbox.periodic_step: lam is NaN", "lam", lambda: B.periodic_step(NAN, 0))
add("blackbox.periodic_step: rho is negative", "rho", lambda: B.periodic_step(0.1, -1))
add("blackbox.periodic_step: rho is a float", "rho", lambda: B.periodic_step(0.1, 1.5))
add("blackbox.periodic_step: tau is 0", "tau", lambda: B.periodic_step(0.1, 2, 0))
for why, kw in (("n_seed is 0", {"n_seed": 0}), ("n_seed is a float", {"n_seed": 1.5}), ("rounds is 0", {"rounds": 0}),
                ("kappa is 0", {"kappa": 0}), ("sigma is negative", {"sigma": -1}), ("rounds is None", {"rounds": None})):
    name = why.split()[0]
    add(f"blackbox.query_schedule: {why}", name, lambda kw=kw: B.query_schedule(**{"n_seed": 150, "rounds": 6, **kw}))

# --------------------------------------------------------------------------- train_substitute
train = lambda **kw: B.train_substitute(**{"oracle": oracle(), "seed_images": images(), "architecture": "mlp",  # noqa: E731
                                            "rounds": 1, "epochs": 1, "progress": False, **kw})
add("blackbox.train_substitute: oracle is the model itself", "oracle", lambda: train(oracle=tiny_cnn()))
add("blackbox.train_substitute: architecture is 'vgg'", "architecture", lambda: train(architecture="vgg"))
add("blackbox.train_substitute: architecture is a module", "architecture", lambda: train(architecture=tiny_cnn()))
add("blackbox.train_substitute: architecture() returns a string", "architecture", lambda: train(architecture=lambda: "mlp"))
for name, v in (("rounds", 0), ("lam", 0.0), ("lam", NAN), ("lam", 2.0), ("tau", 0), ("kappa", 0), ("sigma", -1),
                ("epochs", 0), ("lr", 0.0), ("lr", NAN), ("batch_size", 0), ("num_classes", 1), ("seed", -1),
                ("progress", "yes")):
    add(f"blackbox.train_substitute: {name} is {v!r}", name, lambda name=name, v=v: train(**{name: v}))
add("blackbox.train_substitute: holdout is a tensor", "holdout", lambda: train(holdout=images()))
add("blackbox.train_substitute: holdout images are 0-255", "holdout", lambda: train(holdout=(images() * 255, labels())))
add("blackbox.train_substitute: holdout labels too short", "holdout's labels", lambda: train(holdout=(images(), labels(2))))
add("blackbox.train_substitute: holdout_oracle_labels without holdout", "holdout_oracle_labels",
    lambda: train(holdout_oracle_labels=labels()))
add("blackbox.train_substitute: holdout_oracle_labels too short", "holdout_oracle_labels",
    lambda: train(holdout=(images(), labels()), holdout_oracle_labels=labels(3)))


# --------------------------------------------------------------------------- transfer_attack, transfer_success
transfer = lambda **kw: B.transfer_attack(**{"oracle": oracle(), "substitute": tiny_cnn(), "x": images(),  # noqa: E731
                                             "y": labels(), "eps": 0.1, **kw})
add("blackbox.transfer_attack: oracle is a model", "oracle", lambda: transfer(oracle=tiny_cnn()))
add("blackbox.transfer_attack: substitute is None", "substitute", lambda: transfer(substitute=None))
add("blackbox.transfer_attack: attack is 'cw'", "attack", lambda: transfer(attack="cw"))
add("blackbox.transfer_attack: attack is a number", "attack", lambda: transfer(attack=3))
add("blackbox.transfer_attack: attack returns the wrong shape", "attack", lambda: transfer(attack=lambda m, x, y, e: x[:1]))
for why, v in (("NaN", NAN), ("negative", -0.1), ("above 1", 1.5), ("a string", "0.3")):
    add(f"blackbox.transfer_attack: eps is {why}", "eps", lambda v=v: transfer(eps=v))
for why, v in (("too short", labels(2)), ("floats", labels().float()), ("a string", "seven")):
    add(f"blackbox.transfer_attack: y is {why}", "y", lambda v=v: transfer(y=v))
add("blackbox.transfer_attack: batch_size is 0", "batch_size", lambda: transfer(batch_size=0))
success = lambda **kw: B.transfer_success(**{"oracle": oracle(), "substitute": tiny_cnn(), "x": images(),  # noqa: E731
                                            "y": labels(), "eps_values": [0.1], "progress": False, **kw})
add("blackbox.transfer_success: eps_values is empty", "eps_values", lambda: success(eps_values=[]))
add("blackbox.transfer_success: eps_values holds NaN", "eps_values", lambda: success(eps_values=[NAN]))
add("blackbox.transfer_success: eps_values is a string", "eps_values", lambda: success(eps_values="0.1"))
add("blackbox.transfer_success: attacks names 'jsma'", "attacks", lambda: success(attacks=("jsma",)))
add("blackbox.transfer_success: attacks is a string", "attacks", lambda: success(attacks="fgsm"))
add("blackbox.transfer_success: y is None", "y", lambda: success(y=None))

# --------------------------------------------------------------------------- SimBA
sim = lambda **kw: B.simba(**{"oracle": oracle("probabilities"), "x": images(), "y": labels(), "max_queries": 5,  # noqa: E731
                             "progress": False, **kw})
add("blackbox.simba: the oracle answers labels", "oracle", lambda: sim(oracle=oracle("label")))
add("blackbox.simba: oracle is a model", "oracle", lambda: sim(oracle=tiny_cnn()))
for why, v in (("0", 0.0), ("NaN", NAN), ("above 1", 2.0), ("a string", "0.2")):
    add(f"blackbox.simba: eps is {why}", "eps", lambda v=v: sim(eps=v))
for why, v in (("0", 0), ("a float", 10.5), ("NaN", NAN)):
    add(f"blackbox.simba: max_queries is {why}", "max_queries", lambda v=v: sim(max_queries=v))
add("blackbox.simba: basis is 'wavelet'", "basis", lambda: sim(basis="wavelet"))
add("blackbox.simba: freq_dims without the DCT basis", "freq_dims", lambda: sim(freq_dims=4))
add("blackbox.simba: freq_dims above the image size", "freq_dims", lambda: sim(basis="dct", freq_dims=40))
add("blackbox.simba: freq_dims is 0", "freq_dims", lambda: sim(basis="dct", freq_dims=0))
add("blackbox.simba: DCT on non-square images", "x", lambda: sim(basis="dct", x=images()[..., :20]))
add("blackbox.simba: targeted without y", "y", lambda: sim(y=None, targeted=True))
add("blackbox.simba: targeted is a string", "targeted", lambda: sim(targeted="yes"))
for why, v in (("too short", labels(2)), ("out of range", labels() + 10), ("floats", labels().float())):
    add(f"blackbox.simba: y is {why}", "y", lambda v=v: sim(y=v))
add("blackbox.simba: seed is negative", "seed", lambda: sim(seed=-1))
sq = lambda **kw: B.square_attack(**{"oracle": oracle("probabilities"), "x": images(), "y": labels(), "eps": 0.1,  # noqa: E731
                                     "max_queries": 5, "progress": False, **kw})
add("blackbox.square_attack: x has the wrong channels for the oracle", "x", lambda: sq(x=images(channels=3)))
add("blackbox.square_attack: the oracle answers labels", "oracle", lambda: sq(oracle=oracle("label")))
add("blackbox.square_attack: oracle is a model", "oracle", lambda: sq(oracle=tiny_cnn()))
for why, v in (("0", 0.0), ("NaN", NAN), ("above 1", 2.0), ("a string", "0.2"), ("missing", None)):
    add(f"blackbox.square_attack: eps is {why}", "eps", lambda v=v: sq(eps=v))
for why, v in (("1", 1), ("a float", 10.5), ("NaN", NAN)):
    add(f"blackbox.square_attack: max_queries is {why}", "max_queries", lambda v=v: sq(max_queries=v))
for why, v in (("0", 0.0), ("above 1", 1.5), ("inf", INF)):
    add(f"blackbox.square_attack: p_init is {why}", "p_init", lambda v=v: sq(p_init=v))
for why, v in (("too short", labels(2)), ("out of range", labels() + 10), ("floats", labels().float())):
    add(f"blackbox.square_attack: y is {why}", "y", lambda v=v: sq(y=v))
add("blackbox.square_attack: seed is negative", "seed", lambda: sq(seed=-1))
add("blackbox.square_fraction: query beyond the budget", "query", lambda: B.square_fraction(10, 10))
add("blackbox.square_fraction: max_queries is 0", "max_queries", lambda: B.square_fraction(0, 0))
add("blackbox.dct_matrix: n is 0", "n", lambda: B.dct_matrix(0))
add("blackbox.dct_matrix: dtype is int64", "dtype", lambda: B.dct_matrix(4, torch.int64))

# --------------------------------------------------------------------------- figures
HISTORY = [{"round": 0, "queries": 150, "train_size": 150, "substitute_accuracy": 0.5, "agreement": 0.5}]
add("plotting.blackbox.substitute_figure: history is empty", "history", lambda: PB.substitute_figure([]))
add("plotting.blackbox.substitute_figure: history rows lack queries", "history",
    lambda: PB.substitute_figure([{"round": 0}]))
add("plotting.blackbox.substitute_figure: history has no accuracies", "history",
    lambda: PB.substitute_figure([{"round": 0, "queries": 1, "train_size": 1}]))
add("plotting.blackbox.substitute_figure: oracle_accuracy is 98", "oracle_accuracy",
    lambda: PB.substitute_figure(HISTORY, oracle_accuracy=98.0))
add("plotting.blackbox.lineage: index out of range", "index", lambda: PB.lineage(torch.tensor([-1, 0]), 5))
add("plotting.blackbox.lineage: parents are floats", "parents", lambda: PB.lineage(torch.tensor([-1.0, 0.0]), 1))
add("plotting.blackbox.lineage_figure: seeds holds a synthetic point", "seeds",
    lambda: PB.lineage_figure(images(2), labels(2), torch.tensor([-1, 0]), seeds=[1]))
add("plotting.blackbox.lineage_figure: y_train too short", "y_train",
    lambda: PB.lineage_figure(images(2), labels(1), torch.tensor([-1, 0])))
add("plotting.blackbox.transfer_figure: curves is empty", "curves", lambda: PB.transfer_figure({}))
add("plotting.blackbox.transfer_figure: curves lack success", "curves", lambda: PB.transfer_figure({"fgsm": {"eps": [0.1]}}))
add("plotting.blackbox.transfer_figure: white_box lengths differ", "white_box",
    lambda: PB.transfer_figure({"fgsm": {"eps": [0.1], "success": [0.5]}}, white_box={"fgsm": {"eps": [0.1], "success": []}}))
add("plotting.blackbox.cost_figure: variants differ", "simba_queries",
    lambda: PB.cost_figure({"a": torch.tensor([1])}, {"b": torch.tensor([True])}))
add("plotting.blackbox.cost_figure: transfer success above 1", "transfer success",
    lambda: PB.cost_figure({"a": torch.tensor([1])}, {"a": torch.tensor([True])}, transfer={"t": (10.0, 5.0)}))
add("plotting.blackbox.examples_figure: rows is empty", "rows", lambda: PB.examples_figure(images(), {}, labels()))
add("plotting.blackbox.examples_figure: a row of the wrong shape", "rows",
    lambda: PB.examples_figure(images(), {"fgsm": (images(2), labels(2))}, labels()))
