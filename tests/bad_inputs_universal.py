"""Bad-input cases for lesson 07 (``lectures_lib.universal`` and its figures in ``plotting.universal``): each
call has one bad argument and must raise a clear error naming it (see ``bad_inputs.py``)."""
from __future__ import annotations

import torch
from bad_inputs import BAD_IMAGES, Case, images, tiny_cnn

from lectures_lib import universal as U
from lectures_lib.plotting import universal as P

NAN, INF = float("nan"), float("inf")
CASES: list[Case] = []


def add(id: str, names: str, call) -> None:
    CASES.append(Case(id, call, names))


def v0(c: int = 1, size: int = 28) -> torch.Tensor:
    return torch.zeros(c, size, size)


def _result():
    return U.sgd_universal_perturbation(tiny_cnn(), images(), 0.1, max_passes=1, progress=False)


# --------------------------------------------------------------------------- every bad image, every function
IMAGE_METHODS = {
    "universal.universal_perturbation": ("data", lambda x: U.universal_perturbation(tiny_cnn(), x, 0.1, max_passes=1,
                                                                                     progress=False)),
    "universal.sgd_universal_perturbation": ("data", lambda x: U.sgd_universal_perturbation(
        tiny_cnn(), x, 0.1, max_passes=1, progress=False)),
    "universal.fooling_rate": ("data", lambda x: U.fooling_rate(tiny_cnn(), x, v0())),
    "universal.transfer_matrix": ("data", lambda x: U.transfer_matrix({"a": tiny_cnn()}, {"a": v0()}, x,
                                                                      progress=False)),
    "universal.dominant_labels": ("data", lambda x: U.dominant_labels(tiny_cnn(), x, v0())),
    "universal.perturb": ("x", lambda x: U.perturb(x, v0())),
    "plotting.universal.fooled_examples_figure": ("x", lambda x: P.fooled_examples_figure(
        x, v0(), tiny_cnn(), [str(k) for k in range(10)])),
}
for fn, (arg, call) in IMAGE_METHODS.items():
    for why, bad in BAD_IMAGES.items():
        if why == "a list" and arg == "data":
            continue  # a list of two items is read as a pair (x, y): see the "data is ..." cases below
        add(f"{fn}: {arg} is {why}", arg, lambda call=call, bad=bad: call(bad()))

# --------------------------------------------------------------------------- data of other kinds
for fn, call in (("universal_perturbation", lambda d: U.universal_perturbation(tiny_cnn(), d, 0.1, progress=False)),
                 ("sgd_universal_perturbation", lambda d: U.sgd_universal_perturbation(tiny_cnn(), d, 0.1,
                                                                                       progress=False)),
                 ("fooling_rate", lambda d: U.fooling_rate(tiny_cnn(), d, v0()))):
    add(f"universal.{fn}: data is a string", "data", lambda call=call: call("mnist"))
    add(f"universal.{fn}: data is a list of three", "data", lambda call=call: call([images(), images(), images()]))
    add(f"universal.{fn}: data's labels are too few", "data", lambda call=call: call((images(), torch.zeros(2))))
    add(f"universal.{fn}: data is None", "data", lambda call=call: call(None))

# --------------------------------------------------------------------------- the radius and the norm
RUNS = {
    "universal_perturbation": lambda **kw: U.universal_perturbation(
        **{"model": tiny_cnn(), "data": images(), "xi": 0.1, "max_passes": 1, "progress": False, **kw}),
    "sgd_universal_perturbation": lambda **kw: U.sgd_universal_perturbation(
        **{"model": tiny_cnn(), "data": images(), "xi": 0.1, "max_passes": 1, "progress": False, **kw}),
}
for fn, run in RUNS.items():
    for why, xi in (("NaN", NAN), ("inf", INF), ("0", 0.0), ("negative", -0.1), ("above 1 in L-inf", 10.0),
                    ("a string", "10/255"), ("None", None), ("a tensor of two", torch.tensor([0.1, 0.2]))):
        add(f"universal.{fn}: xi is {why}", "xi", lambda run=run, xi=xi: run(xi=xi))
    add(f"universal.{fn}: xi is NaN in L2", "xi", lambda run=run: run(xi=NAN, p=2))
    for why, p in (("1", 1), ("'l2'", "l2"), ("None", None), ("True", True), ("a list", [2])):
        add(f"universal.{fn}: p is {why}", "p", lambda run=run, p=p: run(p=p))
    for why, d in (("NaN", NAN), ("negative", -0.1), ("above 1", 1.5), ("a string", "0.2")):
        add(f"universal.{fn}: delta is {why}", "delta", lambda run=run, d=d: run(delta=d))
    for why, m in (("0", 0), ("2.5", 2.5), ("None", None), ("True", True)):
        add(f"universal.{fn}: max_passes is {why}", "max_passes", lambda run=run, m=m: run(max_passes=m))
    for why, b in (("0", 0), ("a float", 2.5)):
        add(f"universal.{fn}: batch_size is {why}", "batch_size", lambda run=run, b=b: run(batch_size=b))
    add(f"universal.{fn}: seed is negative", "seed", lambda run=run: run(seed=-1))
    add(f"universal.{fn}: seed is a string", "seed", lambda run=run: run(seed="0"))
    add(f"universal.{fn}: progress is a string", "progress", lambda run=run: run(progress="yes"))
    add(f"universal.{fn}: model is a string", "model", lambda run=run: run(model="lenet5"))
    add(f"universal.{fn}: model is None", "model", lambda run=run: run(model=None))
    add(f"universal.{fn}: model returns images", "model", lambda run=run: run(model=lambda x: x))
    add(f"universal.{fn}: model wants 3 channels", "data", lambda run=run: run(model=tiny_cnn(channels=3)))
    add(f"universal.{fn}: images too small for the model", "data", lambda run=run: run(data=images(size=1)))
    add(f"universal.{fn}: data is empty", "data", lambda run=run: run(data=images()[:0]))

uap = RUNS["universal_perturbation"]
for why, v in (("negative", -0.1), ("above 1", 2.0), ("NaN", NAN)):
    add(f"universal.universal_perturbation: overshoot is {why}", "overshoot", lambda v=v: uap(overshoot=v))
for why, v in (("1", 1), ("a string", "10")):
    add(f"universal.universal_perturbation: candidates is {why}", "candidates", lambda v=v: uap(candidates=v))
add("universal.universal_perturbation: max_iter is 0", "max_iter", lambda: uap(max_iter=0))
add("universal.universal_perturbation: max_iter is 1.5", "max_iter", lambda: uap(max_iter=1.5))
add("universal.universal_perturbation: model has one logit", "model", lambda: uap(model=tiny_cnn(classes=1)))

sgd = RUNS["sgd_universal_perturbation"]
for why, v in (("0", 0.0), ("negative", -1.0), ("NaN", NAN), ("inf", INF), ("a string", "1/255")):
    add(f"universal.sgd_universal_perturbation: step is {why}", "step", lambda v=v: sgd(step=v))
for why, v in (("0", 0.0), ("above 1", 1.5), ("NaN", NAN)):
    add(f"universal.sgd_universal_perturbation: step_decay is {why}", "step_decay", lambda v=v: sgd(step_decay=v))
for why, v in (("0", 0.0), ("negative", -9.0), ("inf", INF)):
    add(f"universal.sgd_universal_perturbation: beta is {why}", "beta", lambda v=v: sgd(beta=v))
for why, v in (("unknown", "sgd"), ("None", None), ("a number", 1)):
    add(f"universal.sgd_universal_perturbation: optimizer is {why}", "optimizer", lambda v=v: sgd(optimizer=v))
add("universal.sgd_universal_perturbation: optimizer is adam in L2", "optimizer", lambda: sgd(optimizer="adam", p=2))
for why, v in (("a string", "crop"), ("True", True), ("a tensor", torch.zeros(3))):
    add(f"universal.sgd_universal_perturbation: augment is {why}", "augment", lambda v=v: sgd(augment=v))
for why, hook in (("a smaller image", lambda xb, generator: xb[..., :4, :4]), ("a list", lambda xb, generator: [xb]),
                  ("float64 for float32 images", lambda xb, generator: xb.double())):
    add(f"universal.sgd_universal_perturbation: augment returns {why}", "augment", lambda hook=hook: sgd(augment=hook))

# --------------------------------------------------------------------------- projections and perturbations
proj = lambda **kw: U.project_lp(**{"v": torch.zeros(3, 4, 4), "xi": 0.1, "p": "inf", **kw})  # noqa: E731
for why, v in (("a list", [0.1, 0.2]), ("an int tensor", torch.zeros(3, dtype=torch.long)), ("None", None),
               ("NaN", torch.full((3,), NAN)), ("inf", torch.full((3,), INF))):
    add(f"universal.project_lp: v is {why}", "v", lambda v=v: proj(v=v))
for why, xi in (("0", 0.0), ("negative", -1.0), ("NaN", NAN), ("above 1 in L-inf", 3.0)):
    add(f"universal.project_lp: xi is {why}", "xi", lambda xi=xi: proj(xi=xi))
for why, p in (("1", 1), ("'two'", "two"), ("None", None)):
    add(f"universal.project_lp: p is {why}", "p", lambda p=p: proj(p=p))

rate = lambda **kw: U.fooling_rate(**{"model": tiny_cnn(), "data": images(), "v": v0(), **kw})  # noqa: E731
for why, v in (("a list", [[0.0]]), ("None", None), ("NaN", v0() * NAN), ("of another size", v0(size=14)),
               ("with 3 channels", v0(c=3)), ("a batch of two", torch.zeros(2, 1, 28, 28)), ("2-d", torch.zeros(28, 28)),
               ("an int tensor", torch.zeros(1, 28, 28, dtype=torch.long))):
    add(f"universal.fooling_rate: v is {why}", "v", lambda v=v: rate(v=v))
    add(f"universal.dominant_labels: v is {why}", "v", lambda v=v: U.dominant_labels(tiny_cnn(), images(), v))
add("universal.perturb: v of another size", "v", lambda: U.perturb(images(), v0(size=14)))
add("universal.fooling_rate: batch_size is 0", "batch_size", lambda: rate(batch_size=0))
add("universal.fooling_rate: model is a string", "model", lambda: rate(model="lenet5"))
add("universal.fooling_rate: model returns a list", "model", lambda: rate(model=lambda x: [x.sum()]))
add("universal.dominant_labels: top is 0", "top", lambda: U.dominant_labels(tiny_cnn(), images(), v0(), top=0))
add("universal.dominant_labels: top is a float", "top", lambda: U.dominant_labels(tiny_cnn(), images(), v0(), top=2.0))

# --------------------------------------------------------------------------- transfer matrix
tm = lambda **kw: U.transfer_matrix(**{"models": {"a": tiny_cnn()}, "perturbations": {"a": v0()},  # noqa: E731
                                       "data": images(), "progress": False, **kw})
add("universal.transfer_matrix: models is a list", "models", lambda: tm(models=[tiny_cnn()]))
add("universal.transfer_matrix: models is empty", "models", lambda: tm(models={}))
add("universal.transfer_matrix: a model is a string", "models['a']", lambda: tm(models={"a": "lenet5"}))
add("universal.transfer_matrix: a model's name is a number", "models", lambda: tm(models={1: tiny_cnn()}))
add("universal.transfer_matrix: perturbations is a tensor", "perturbations", lambda: tm(perturbations=v0()))
add("universal.transfer_matrix: perturbations is empty", "perturbations", lambda: tm(perturbations={}))
add("universal.transfer_matrix: a perturbation has NaNs", "perturbations['a']", lambda: tm(perturbations={"a": v0() * NAN}))
add("universal.transfer_matrix: a perturbation of another size", "perturbations['a']",
    lambda: tm(perturbations={"a": v0(size=14)}))
add("universal.transfer_matrix: a model wants 3 channels", "data", lambda: tm(models={"a": tiny_cnn(channels=3)}))
add("universal.transfer_matrix: progress is 1", "progress", lambda: tm(progress=1))
add("universal.transfer_matrix: batch_size is 0", "batch_size", lambda: tm(batch_size=0))

# --------------------------------------------------------------------------- the MNIST models
add("universal.mnist_transfer_model: name is unknown", "name", lambda: U.mnist_transfer_model("vgg16"))
add("universal.mnist_transfer_model: name is None", "name", lambda: U.mnist_transfer_model(None))
add("universal.mnist_transfer_model: seed is negative", "seed", lambda: U.mnist_transfer_model("mlp", seed=-1))
add("universal.mnist_transfer_model: seed is a float", "seed", lambda: U.mnist_transfer_model("mlp", seed=0.5))
add("universal.mnist_transfer_model: progress is None", "progress", lambda: U.mnist_transfer_model("mlp", progress=None))

# --------------------------------------------------------------------------- figures
add("plotting.universal.perturbation_figure: perturbations is a tensor", "perturbations",
    lambda: P.perturbation_figure(v0()))
add("plotting.universal.perturbation_figure: perturbations is empty", "perturbations", lambda: P.perturbation_figure({}))
add("plotting.universal.perturbation_figure: a perturbation is 2-d", "perturbations['a']",
    lambda: P.perturbation_figure({"a": torch.zeros(28, 28)}))
add("plotting.universal.perturbation_figure: a perturbation has 2 channels", "perturbations['a']",
    lambda: P.perturbation_figure({"a": torch.zeros(2, 28, 28)}))
add("plotting.universal.perturbation_figure: a perturbation has NaNs", "perturbations['a']",
    lambda: P.perturbation_figure({"a": v0() * NAN}))
add("plotting.universal.perturbation_figure: xi is 0", "xi", lambda: P.perturbation_figure({"a": v0()}, xi=0.0))
add("plotting.universal.perturbation_figure: ncols is 0", "ncols", lambda: P.perturbation_figure({"a": v0()}, ncols=0))
add("plotting.universal.fooling_history_figure: histories is a list", "histories",
    lambda: P.fooling_history_figure([0.1, 0.2]))
add("plotting.universal.fooling_history_figure: a history is empty", "histories['a']",
    lambda: P.fooling_history_figure({"a": []}))
add("plotting.universal.fooling_history_figure: a rate is in percent", "histories['a']",
    lambda: P.fooling_history_figure({"a": [50.0]}))
add("plotting.universal.fooling_history_figure: target is 80", "target",
    lambda: P.fooling_history_figure({"a": [0.5]}, target=80))
add("plotting.universal.training_size_figure: sizes is empty", "sizes", lambda: P.training_size_figure([], {"a": []}))
add("plotting.universal.training_size_figure: a size is 0", "sizes", lambda: P.training_size_figure([0, 10], {"a": [0.1, 0.2]}))
add("plotting.universal.training_size_figure: rates too short", "rates['a']",
    lambda: P.training_size_figure([5, 10], {"a": [0.1]}))
add("plotting.universal.training_size_figure: rates is a list", "rates", lambda: P.training_size_figure([5], [0.1]))
add("plotting.universal.training_size_figure: a rate is NaN", "rates['a']",
    lambda: P.training_size_figure([5], {"a": [NAN]}))
add("plotting.universal.fooled_examples_figure: too many images", "x",
    lambda: P.fooled_examples_figure(images(13), v0(), tiny_cnn(), [str(k) for k in range(10)]))
add("plotting.universal.fooled_examples_figure: categories too short", "categories",
    lambda: P.fooled_examples_figure(images(2), v0(), tiny_cnn(), ["a", "b"]))
add("plotting.universal.fooled_examples_figure: categories is a string", "categories",
    lambda: P.fooled_examples_figure(images(2), v0(), tiny_cnn(), "0123456789"))
add("plotting.universal.fooled_examples_figure: v of another size", "v",
    lambda: P.fooled_examples_figure(images(2), v0(size=14), tiny_cnn(), [str(k) for k in range(10)]))
add("plotting.universal.dominant_labels_figure: pairs is empty", "pairs", lambda: P.dominant_labels_figure([], ["a"]))
add("plotting.universal.dominant_labels_figure: a class out of range", "class",
    lambda: P.dominant_labels_figure([(5, 0.5)], ["a", "b"]))
add("plotting.universal.dominant_labels_figure: a fraction above 1", "fraction",
    lambda: P.dominant_labels_figure([(0, 50.0)], ["a", "b"]))
add("plotting.universal.dominant_labels_figure: a pair of three", "pairs",
    lambda: P.dominant_labels_figure([(0, 0.5, 1)], ["a", "b"]))
add("plotting.universal.transfer_figure: matrix is a tensor", "matrix", lambda: P.transfer_figure(torch.zeros(2, 2)))
add("plotting.universal.xi_label: xi is NaN", "xi", lambda: P.xi_label(NAN))
add("plotting.universal.xi_label: xi is negative", "xi", lambda: P.xi_label(-1.0))
