"""Bad-input cases for lesson 06 (``lectures_lib.attacks`` and its figures and widget in ``plotting.attacks``):
each call has one bad argument and must raise a clear error naming it (see ``bad_inputs.py``)."""
from __future__ import annotations

import torch
from bad_inputs import BAD_IMAGES, Case, images, labels, tiny_cnn

from lectures_lib import attacks as A
from lectures_lib.plotting import attacks as PA

NAN, INF = float("nan"), float("inf")
CASES: list[Case] = []


def add(id: str, names: str, call) -> None:
    CASES.append(Case(id, call, names))


def _data(x):
    """An ``(x, y)`` pair with as many labels as ``x`` has images (when ``x`` is a batch)."""
    n = x.shape[0] if isinstance(x, torch.Tensor) and x.dim() == 4 else 4
    return x, labels(n)


# --------------------------------------------------------------------------- every bad image, every method
IMAGE_METHODS = {
    "attacks.fgsm": ("x", lambda x: A.fgsm(tiny_cnn(), x, labels(), eps=0.1)),
    "attacks.pgd": ("x", lambda x: A.pgd(tiny_cnn(), x, labels(), eps=0.1, alpha=0.01, steps=2)),
    "attacks.least_likely": ("x", lambda x: A.least_likely(tiny_cnn(), x, eps=0.1)),
    "attacks.deepfool": ("x", lambda x: A.deepfool(tiny_cnn(), x, max_iter=2)),
    "attacks.lbfgs_attack": ("x", lambda x: A.lbfgs_attack(tiny_cnn(), x, 3, search_steps=1, max_iter=2)),
    "attacks.loss_gradient": ("x", lambda x: A.loss_gradient(tiny_cnn(), x, labels())),
    "attacks.smallest_eps": ("x", lambda x: A.smallest_eps(tiny_cnn(), x, eps_values=[0.1])),
    "attacks.precompute_attacks": ("images", lambda x: A.precompute_attacks(tiny_cnn(), x, eps_values=[0.1],
                                                                            progress=False)),
    "attacks.accuracy_under_attack (eps 0)": ("data", lambda x: A.accuracy_under_attack(
        tiny_cnn(), _data(x), "fgsm", eps_values=[0.0], progress=False)),
    "attacks.linear_adversarial": ("x", lambda x: A.linear_adversarial(torch.ones(784), x, 0.1)),
    "plotting.attacks.attack_widget": ("images", lambda x: PA.attack_widget(tiny_cnn(), x, eps_values=[0.1],
                                                                           progress=False)),
}
for fn, (arg, call) in IMAGE_METHODS.items():
    for why, bad in BAD_IMAGES.items():
        add(f"{fn}: {arg} is {why}", arg, lambda call=call, bad=bad: call(bad()))

# --------------------------------------------------------------------------- fgsm
fgsm = lambda **kw: A.fgsm(**{"model": tiny_cnn(), "x": images(), "y": labels(), "eps": 0.1, **kw})  # noqa: E731
for why, eps in (("NaN", NAN), ("inf", INF), ("negative", -0.1), ("above 1", 1.5), ("a string", "0.1"),
                 ("None", None), ("a tensor of two", torch.tensor([0.1, 0.2]))):
    add(f"attacks.fgsm: eps is {why}", "eps", lambda eps=eps: fgsm(eps=eps))
for why, y in (("too short", labels(2)), ("out of range", labels() + 10), ("negative", labels() - 1),
               ("floats", labels().float()), ("a string", "cat"), ("2-d", labels()[None]),
               ("bools", labels() > 1), ("a float", 1.5)):
    add(f"attacks.fgsm: y is {why}", "y", lambda y=y: fgsm(y=y))
add("attacks.fgsm: targeted is a string", "targeted", lambda: fgsm(targeted="yes"))
add("attacks.fgsm: targeted without y", "y", lambda: fgsm(y=None, targeted=True))
add("attacks.fgsm: loss_fn is a string", "loss_fn", lambda: fgsm(loss_fn="cross_entropy"))
add("attacks.fgsm: loss_fn returns a vector", "loss_fn",
    lambda: fgsm(loss_fn=lambda out, y: torch.nn.functional.cross_entropy(out, y, reduction="none")))
add("attacks.fgsm: loss_fn returns a number", "loss_fn", lambda: fgsm(loss_fn=lambda out, y: 3.0))
add("attacks.fgsm: loss_fn ignores the logits", "loss_fn", lambda: fgsm(loss_fn=lambda out, y: torch.tensor(1.0)))
for why, b in (("0", 0), ("2.5", 2.5), ("True", True), ("NaN", NAN)):
    add(f"attacks.fgsm: batch_size is {why}", "batch_size", lambda b=b: fgsm(batch_size=b))
add("attacks.fgsm: model is a string", "model", lambda: fgsm(model="lenet5"))
add("attacks.fgsm: model is None", "model", lambda: fgsm(model=None))
add("attacks.fgsm: model returns images, not logits", "model", lambda: fgsm(model=lambda x: x))
add("attacks.fgsm: model returns a list", "model", lambda: fgsm(model=lambda x: [x.sum()]))
add("attacks.fgsm: model wants 3 channels", "x", lambda: fgsm(model=tiny_cnn(channels=3)))
add("attacks.fgsm: images too small for the model", "x", lambda: fgsm(x=images(size=1)))

# --------------------------------------------------------------------------- pgd
pgd = lambda **kw: A.pgd(**{"model": tiny_cnn(), "x": images(), "y": labels(), "eps": 0.1,  # noqa: E731
                            "alpha": 0.02, "steps": 2, **kw})
for why, v in (("NaN", NAN), ("0", 0.0), ("above 1", 2.0), ("inf", INF), ("a string", "0.01")):
    add(f"attacks.pgd: alpha is {why}", "alpha", lambda v=v: pgd(alpha=v))
for why, v in (("0", 0), ("2.5", 2.5), ("NaN", NAN), ("negative", -3)):
    add(f"attacks.pgd: steps is {why}", "steps", lambda v=v: pgd(steps=v))
add("attacks.pgd: eps is NaN", "eps", lambda: pgd(eps=NAN))
add("attacks.pgd: eps is inf", "eps", lambda: pgd(eps=INF))
add("attacks.pgd: random_start is a string", "random_start", lambda: pgd(random_start="no"))
add("attacks.pgd: generator is a seed", "generator", lambda: pgd(generator=42))
add("attacks.pgd: y is out of range", "y", lambda: pgd(y=labels() + 10))
add("attacks.pgd: targeted without y", "y", lambda: pgd(y=None, targeted=True))
add("attacks.pgd: batch_size is 0", "batch_size", lambda: pgd(batch_size=0))
add("attacks.pgd: loss_fn is an int", "loss_fn", lambda: pgd(loss_fn=1))

# --------------------------------------------------------------------------- least_likely
ll = lambda **kw: A.least_likely(**{"model": tiny_cnn(), "x": images(), "eps": 0.1, **kw})  # noqa: E731
add("attacks.least_likely: eps is NaN", "eps", lambda: ll(eps=NAN))
add("attacks.least_likely: eps is above 1", "eps", lambda: ll(eps=3))
add("attacks.least_likely: steps is 0", "steps", lambda: ll(steps=0))
add("attacks.least_likely: alpha is negative", "alpha", lambda: ll(alpha=-0.01))
add("attacks.least_likely: alpha is NaN", "alpha", lambda: ll(alpha=NAN))
add("attacks.least_likely: batch_size is 0", "batch_size", lambda: ll(batch_size=0))
add("attacks.least_likely: loss_fn is a string", "loss_fn", lambda: ll(loss_fn="ce"))
add("attacks.least_likely: model is a string", "model", lambda: ll(model="net"))

# --------------------------------------------------------------------------- deepfool
df = lambda **kw: A.deepfool(**{"model": tiny_cnn(), "x": images(), "max_iter": 3, **kw})  # noqa: E731
for why, v in (("NaN", NAN), ("negative", -1), ("inf", INF), ("a string", "0.02")):
    add(f"attacks.deepfool: overshoot is {why}", "overshoot", lambda v=v: df(overshoot=v))
add("attacks.deepfool: max_iter is 0", "max_iter", lambda: df(max_iter=0))
add("attacks.deepfool: max_iter is 1.5", "max_iter", lambda: df(max_iter=1.5))
add("attacks.deepfool: candidates is 1", "candidates", lambda: df(candidates=1))
add("attacks.deepfool: candidates is a string", "candidates", lambda: df(candidates="all"))
add("attacks.deepfool: batch_size is 0", "batch_size", lambda: df(batch_size=0))
add("attacks.deepfool: model has one logit", "model", lambda: df(model=tiny_cnn(classes=1)))
add("attacks.deepfool: model returns images", "model", lambda: df(model=lambda x: x))
add("attacks.deepfool: model wants 3 channels", "x", lambda: df(model=tiny_cnn(channels=3)))

# --------------------------------------------------------------------------- lbfgs_attack
lb = lambda **kw: A.lbfgs_attack(**{"model": tiny_cnn(), "x": images(), "target": 3,  # noqa: E731
                                    "search_steps": 1, "max_iter": 2, **kw})
for why, t in (("None", None), ("negative", -1), ("out of range", 10), ("floats", labels().float()),
               ("too short", labels(2)), ("a string", "cat")):
    add(f"attacks.lbfgs_attack: target is {why}", "target", lambda t=t: lb(target=t))
add("attacks.lbfgs_attack: c_init is 0", "c_init", lambda: lb(c_init=0))
add("attacks.lbfgs_attack: c_init is NaN", "c_init", lambda: lb(c_init=NAN))
add("attacks.lbfgs_attack: search_steps is 0", "search_steps", lambda: lb(search_steps=0))
add("attacks.lbfgs_attack: max_iter is 0", "max_iter", lambda: lb(max_iter=0))
add("attacks.lbfgs_attack: loss_fn is a string", "loss_fn", lambda: lb(loss_fn="ce"))

# --------------------------------------------------------------------------- fooling_image
fool = lambda **kw: A.fooling_image(**{"model": tiny_cnn(), "target": 1, "steps": 2, **kw})  # noqa: E731
for why, t in (("out of range", 10), ("negative", -1), ("a string", "cat"), ("empty", []), ("floats", [1.5]),
               ("None", None), ("a float tensor", torch.tensor([1.0]))):
    add(f"attacks.fooling_image: target is {why}", "target", lambda t=t: fool(target=t))
for why, s in (("2-d", (28, 28)), ("3 channels for a grey model", (3, 28, 28)), ("a zero side", (1, 0, 28)),
               ("floats", (1.0, 28.0, 28.0)), ("an int", 28), ("too small for the model", (1, 1, 1))):
    add(f"attacks.fooling_image: shape is {why}", "shape", lambda s=s: fool(shape=s))
add("attacks.fooling_image: steps is 0", "steps", lambda: fool(steps=0))
add("attacks.fooling_image: lr is 0", "lr", lambda: fool(lr=0))
add("attacks.fooling_image: lr is NaN", "lr", lambda: fool(lr=NAN))
add("attacks.fooling_image: l2 is negative", "l2", lambda: fool(l2=-1))
add("attacks.fooling_image: l2 is inf", "l2", lambda: fool(l2=INF))
add("attacks.fooling_image: confidence is above 1", "confidence", lambda: fool(confidence=1.5))
add("attacks.fooling_image: confidence is NaN", "confidence", lambda: fool(confidence=NAN))
add("attacks.fooling_image: seed is negative", "seed", lambda: fool(seed=-1))
add("attacks.fooling_image: loss_fn is a string", "loss_fn", lambda: fool(loss_fn="ce"))
add("attacks.fooling_image: model is a string", "model", lambda: fool(model="lenet"))

# --------------------------------------------------------------------------- linear_adversarial
add("attacks.linear_adversarial: weight has the wrong size", "weight",
    lambda: A.linear_adversarial(torch.ones(10), images(), 0.1))
add("attacks.linear_adversarial: weight is an int tensor", "weight",
    lambda: A.linear_adversarial(torch.ones(784, dtype=torch.long), images(), 0.1))
add("attacks.linear_adversarial: weight has NaNs", "weight",
    lambda: A.linear_adversarial(torch.full((784,), NAN), images(), 0.1))
add("attacks.linear_adversarial: weight is a list", "weight", lambda: A.linear_adversarial([1.0] * 784, images(), 0.1))
add("attacks.linear_adversarial: eps is NaN", "eps", lambda: A.linear_adversarial(torch.ones(784), images(), NAN))

# --------------------------------------------------------------------------- loss_gradient
add("attacks.loss_gradient: y is out of range", "y", lambda: A.loss_gradient(tiny_cnn(), images(), labels() + 10))
add("attacks.loss_gradient: loss_fn is a string", "loss_fn",
    lambda: A.loss_gradient(tiny_cnn(), images(), labels(), loss_fn="ce"))
add("attacks.loss_gradient: batch_size is 0", "batch_size",
    lambda: A.loss_gradient(tiny_cnn(), images(), labels(), batch_size=0))

# --------------------------------------------------------------------------- evaluation
aua = lambda **kw: A.accuracy_under_attack(**{"model": tiny_cnn(), "data": (images(), labels()),  # noqa: E731
                                               "attack": "fgsm", "eps_values": [0.0, 0.1], "progress": False, **kw})
add("attacks.accuracy_under_attack: unknown attack", "attack", lambda: aua(attack="cw"))
add("attacks.accuracy_under_attack: attack is an int", "attack", lambda: aua(attack=3))
for why, e in (("empty", []), ("NaN", [NAN]), ("a string", "0.1"), ("above 1", [2.0]), ("None", None),
               ("a number", 0.1)):
    add(f"attacks.accuracy_under_attack: eps_values is {why}", "eps_values", lambda e=e: aua(eps_values=e))
for why, k in (("0", (0,)), ("above K", (11,)), ("a string", "top1"), ("empty", ())):
    add(f"attacks.accuracy_under_attack: topk is {why}", "topk", lambda k=k: aua(topk=k))
add("attacks.accuracy_under_attack: batch_size is 0", "batch_size", lambda: aua(batch_size=0))
add("attacks.accuracy_under_attack: labels out of range", "data", lambda: aua(data=(images(), labels() + 10)))
add("attacks.accuracy_under_attack: labels are floats", "data", lambda: aua(data=(images(), labels().float())))
add("attacks.accuracy_under_attack: images without labels", "data", lambda: aua(data=images()))
add("attacks.accuracy_under_attack: data is a list of images", "data", lambda: aua(data=[images()]))
add("attacks.accuracy_under_attack: x and y differ in length", "data", lambda: aua(data=(images(), labels(3))))
add("attacks.accuracy_under_attack: model is a string", "model", lambda: aua(model="lenet"))

se = lambda **kw: A.smallest_eps(**{"model": tiny_cnn(), "x": images(), "y": labels(),  # noqa: E731
                                    "eps_values": [0.1, 0.2], **kw})
add("attacks.smallest_eps: eps_values is empty", "eps_values", lambda: se(eps_values=[]))
add("attacks.smallest_eps: eps_values has a NaN", "eps_values", lambda: se(eps_values=[0.1, NAN]))
add("attacks.smallest_eps: unknown attack", "attack", lambda: se(attack="cw"))
add("attacks.smallest_eps: y is too short", "y", lambda: se(y=labels(2)))
add("attacks.smallest_eps: y is out of range", "y", lambda: se(y=labels() + 10))
add("attacks.smallest_eps: model is a string", "model", lambda: se(model="lenet"))
for why, fn in (("returns None", lambda m, x, y, eps: None), ("returns one image", lambda m, x, y, eps: x[:1]),
                ("returns 0-255 images", lambda m, x, y, eps: x * 255)):
    add(f"attacks.accuracy_under_attack: the attack {why}", "attack", lambda fn=fn: aua(attack=fn))
    add(f"attacks.smallest_eps: the attack {why}", "attack", lambda fn=fn: se(attack=fn))

pre = lambda **kw: A.precompute_attacks(**{"model": tiny_cnn(), "images": images(), "eps_values": [0.1],  # noqa: E731
                                          "progress": False, **kw})
add("attacks.precompute_attacks: unknown attack", "attacks", lambda: pre(attacks=("cw",)))
add("attacks.precompute_attacks: attacks is one string", "attacks", lambda: pre(attacks="fgsm"))
add("attacks.precompute_attacks: attacks is empty", "attacks", lambda: pre(attacks=()))
add("attacks.precompute_attacks: eps_values is empty", "eps_values", lambda: pre(eps_values=[]))
add("attacks.precompute_attacks: labels too short", "labels", lambda: pre(labels=labels(2)))
add("attacks.precompute_attacks: labels out of range", "labels", lambda: pre(labels=labels() + 10))
add("attacks.precompute_attacks: batch_size is 0", "batch_size", lambda: pre(batch_size=0))

add("attacks.kurakin_schedule: eps is NaN", "eps", lambda: A.kurakin_schedule(NAN))
add("attacks.kurakin_schedule: eps is negative", "eps", lambda: A.kurakin_schedule(-1 / 255))
add("attacks.named_attack: unknown name", "attack", lambda: A.named_attack("cw"))
add("attacks.named_attack: name is an int", "attack", lambda: A.named_attack(3))

# --------------------------------------------------------------------------- figures and widget
x1 = lambda: images()[0]  # noqa: E731
p10 = lambda: torch.full((10,), 0.1)  # noqa: E731
cats = [str(i) for i in range(10)]
fig = lambda **kw: PA.attack_figure(**{"x": x1(), "x_adv": x1(), "probs": p10(), "probs_adv": p10(),  # noqa: E731
                                       "categories": cats, **kw})
add("plotting.attacks.attack_figure: x is a batch", "x", lambda: fig(x=images()))
add("plotting.attacks.attack_figure: x is 0-255", "x", lambda: fig(x=x1() * 255))
add("plotting.attacks.attack_figure: x_adv has NaNs", "x_adv", lambda: fig(x_adv=x1() * NAN))
add("plotting.attacks.attack_figure: x_adv of another size", "x_adv", lambda: fig(x_adv=images(size=14)[0]))
add("plotting.attacks.attack_figure: probs too short", "probs", lambda: fig(probs=torch.full((5,), 0.2)))
add("plotting.attacks.attack_figure: probs are logits", "probs", lambda: fig(probs=torch.linspace(-3, 3, 10)))
add("plotting.attacks.attack_figure: probs_adv has NaNs", "probs_adv", lambda: fig(probs_adv=p10() * NAN))
add("plotting.attacks.attack_figure: categories is a string", "categories", lambda: fig(categories="0123456789"))
add("plotting.attacks.attack_figure: k is 0", "k", lambda: fig(k=0))
add("plotting.attacks.accuracy_figure: no curves", "curves", lambda: PA.accuracy_figure({}))
add("plotting.attacks.accuracy_figure: a curve is a list", "curves", lambda: PA.accuracy_figure({"fgsm": [0.5]}))
add("plotting.attacks.accuracy_figure: unknown eps_unit", "eps_unit",
    lambda: PA.accuracy_figure({"fgsm": {"eps": [0.1], "top1": [0.5]}}, eps_unit="pixels"))
add("plotting.attacks.eps_label: eps is NaN", "eps", lambda: PA.eps_label(NAN))
add("plotting.attacks.eps_label: eps is a string", "eps", lambda: PA.eps_label("8/255"))
wid = lambda **kw: PA.attack_widget(**{"model": tiny_cnn(), "images": images(2), "eps_values": [0.1],  # noqa: E731
                                       "attacks": ("fgsm",), "progress": False, **kw})
add("plotting.attacks.attack_widget: unknown attack", "attacks", lambda: wid(attacks=("cw",)))
add("plotting.attacks.attack_widget: categories too short", "categories", lambda: wid(categories=["a", "b"]))
add("plotting.attacks.attack_widget: k is 0", "k", lambda: wid(k=0))
add("plotting.attacks.attack_widget: eps_values has a NaN", "eps_values", lambda: wid(eps_values=[NAN]))

# --------------------------------------------------------------------------- added with issues 11 and 16
add("attacks.project_linf: x_adv is a list", "x_adv", lambda: A.project_linf(images().tolist(), images(), 0.1))
add("attacks.project_linf: x_adv is an int tensor", "x_adv",
    lambda: A.project_linf((images() * 255).long(), images(), 0.1))
add("attacks.project_linf: x_adv of another shape", "x_adv", lambda: A.project_linf(images(2), images(), 0.1))
add("attacks.project_linf: x_adv has NaNs", "x_adv", lambda: A.project_linf(images() * NAN, images(), 0.1))
add("attacks.project_linf: x_adv has inf", "x_adv", lambda: A.project_linf(images() * INF, images(), 0.1))
for _name, _bad in BAD_IMAGES.items():
    if _name != "wrong channels":
        add(f"attacks.project_linf: x is {_name}", "x", lambda _bad=_bad: A.project_linf(images(), _bad(), 0.1))
add("attacks.project_linf: eps is negative", "eps", lambda: A.project_linf(images(), images(), -0.1))
add("attacks.project_linf: eps is NaN", "eps", lambda: A.project_linf(images(), images(), NAN))
add("attacks.project_linf: eps above 1", "eps", lambda: A.project_linf(images(), images(), 8))
add("attacks.project_linf: eps is a string", "eps", lambda: A.project_linf(images(), images(), "8/255"))
_acc = lambda **kw: A.accuracy_under_attack(**{"model": tiny_cnn(), "data": (images(), labels()),  # noqa: E731
                                               "attack": "iterative", "eps_values": [0.1], "progress": False,
                                               "early_stop": True, **kw})
add("attacks.accuracy_under_attack: early_stop with fgsm", "early_stop", lambda: _acc(attack="fgsm"))
add("attacks.accuracy_under_attack: early_stop with pgd", "early_stop", lambda: _acc(attack="pgd"))
add("attacks.accuracy_under_attack: early_stop with a function", "early_stop",
    lambda: _acc(attack=lambda m, x, y, e: x))
add("attacks.accuracy_under_attack: early_stop is a string", "early_stop", lambda: _acc(early_stop="yes"))
add("attacks.accuracy_under_attack: early_stop is 1", "early_stop", lambda: _acc(early_stop=1))
add("attacks.accuracy_under_attack: early_stop, labels out of range", "labels",
    lambda: _acc(data=(images(), torch.tensor([0, 1, 2, 10]))))
add("attacks.accuracy_under_attack: early_stop, eps NaN", "eps_values", lambda: _acc(eps_values=[NAN]))
add("attacks.accuracy_under_attack: early_stop, topk too large", "topk", lambda: _acc(topk=(1, 11)))

_p5 = lambda: torch.full((10,), 0.1)  # noqa: E731
_row = lambda **kw: PA.PandaRow(**{"eps": 2 / 255, "direction": images()[0].sign(), "direction_title": "d",  # noqa: E731
                                   "x_adv": images()[0], "probs_adv": _p5(), **kw})
_panda = lambda **kw: PA.panda_figure(**{"x": images()[0], "probs": _p5(), "rows": {"FGSM": _row()},  # noqa: E731
                                         "categories": cats, **kw})
add("plotting.attacks.panda_figure: x is a batch", "x", lambda: _panda(x=images()))
add("plotting.attacks.panda_figure: x is 0-255", "x", lambda: _panda(x=images()[0] * 255))
add("plotting.attacks.panda_figure: probs are logits", "probs", lambda: _panda(probs=torch.linspace(-2, 2, 10)))
add("plotting.attacks.panda_figure: probs too short", "probs", lambda: _panda(probs=torch.full((5,), 0.2)))
add("plotting.attacks.panda_figure: no rows", "rows", lambda: _panda(rows={}))
add("plotting.attacks.panda_figure: rows is a list", "rows", lambda: _panda(rows=[_row()]))
add("plotting.attacks.panda_figure: a row is a tuple", "rows['FGSM']", lambda: _panda(rows={"FGSM": tuple(_row())}))
add("plotting.attacks.panda_figure: a row's eps is NaN", "rows['FGSM'].eps", lambda: _panda(rows={"FGSM": _row(eps=NAN)}))
add("plotting.attacks.panda_figure: a row's direction is too large", "rows['FGSM'].direction",
    lambda: _panda(rows={"FGSM": _row(direction=images()[0] * 5)}))
add("plotting.attacks.panda_figure: a row's direction of another shape", "rows['FGSM'].direction",
    lambda: _panda(rows={"FGSM": _row(direction=torch.ones(1, 5, 5))}))
add("plotting.attacks.panda_figure: a row's x_adv has NaNs", "rows['FGSM'].x_adv",
    lambda: _panda(rows={"FGSM": _row(x_adv=images()[0] * NAN)}))
add("plotting.attacks.panda_figure: a row's x_adv of another size", "rows['FGSM'].x_adv",
    lambda: _panda(rows={"FGSM": _row(x_adv=images(size=14)[0])}))
add("plotting.attacks.panda_figure: a row's probs_adv are logits", "rows['FGSM'].probs_adv",
    lambda: _panda(rows={"FGSM": _row(probs_adv=torch.linspace(-2, 2, 10))}))
add("plotting.attacks.panda_figure: a row's direction_probs too short", "rows['FGSM'].direction_probs",
    lambda: _panda(rows={"FGSM": _row(direction_probs=torch.full((5,), 0.2))}))
add("plotting.attacks.panda_figure: categories is a string", "categories", lambda: _panda(categories="0123456789"))

_dist = lambda **kw: PA.distortion_figure(**{"x": images(2), "x_adv": images(2), "labels": ["a", "b"],  # noqa: E731
                                             "adv_labels": ["c", "d"], **kw})
add("plotting.attacks.distortion_figure: x is one image", "x", lambda: _dist(x=images()[0]))
add("plotting.attacks.distortion_figure: x_adv is 0-255", "x_adv", lambda: _dist(x_adv=images(2) * 255))
add("plotting.attacks.distortion_figure: x_adv of another batch", "x_adv", lambda: _dist(x_adv=images(3)))
add("plotting.attacks.distortion_figure: labels too short", "labels", lambda: _dist(labels=["a"]))
add("plotting.attacks.distortion_figure: labels is a string", "labels", lambda: _dist(labels="ab"))
add("plotting.attacks.distortion_figure: adv_labels too long", "adv_labels", lambda: _dist(adv_labels=["a", "b", "c"]))
add("plotting.attacks.distortion_figure: magnify is 0", "magnify", lambda: _dist(magnify=0))
add("plotting.attacks.distortion_figure: magnify is NaN", "magnify", lambda: _dist(magnify=NAN))

_cmp = lambda **kw: PA.method_comparison_figure(**{"x": images()[0], "adversarial": {"fgsm": images()[1]},  # noqa: E731
                                                   "probs": _p5(), "adversarial_probs": {"fgsm": _p5()},
                                                   "categories": cats, "eps": 32 / 255, **kw})
add("plotting.attacks.method_comparison_figure: x is a batch", "x", lambda: _cmp(x=images()))
add("plotting.attacks.method_comparison_figure: no adversarial images", "adversarial", lambda: _cmp(adversarial={}))
add("plotting.attacks.method_comparison_figure: an adversarial image of another size", "adversarial['fgsm']",
    lambda: _cmp(adversarial={"fgsm": images(size=14)[0]}))
add("plotting.attacks.method_comparison_figure: an adversarial image is 0-255", "adversarial['fgsm']",
    lambda: _cmp(adversarial={"fgsm": images()[1] * 255}))
add("plotting.attacks.method_comparison_figure: probabilities missing", "adversarial_probs",
    lambda: _cmp(adversarial_probs={}))
add("plotting.attacks.method_comparison_figure: probabilities are logits", "adversarial_probs['fgsm']",
    lambda: _cmp(adversarial_probs={"fgsm": torch.linspace(-2, 2, 10)}))
add("plotting.attacks.method_comparison_figure: eps is 32", "eps", lambda: _cmp(eps=32))
add("plotting.attacks.method_comparison_figure: probs too short", "probs", lambda: _cmp(probs=torch.full((5,), 0.2)))

add("plotting.attacks.wilson_interval: n is 0", "n", lambda: PA.wilson_interval(0.5, 0))
add("plotting.attacks.wilson_interval: n is 1.5", "n", lambda: PA.wilson_interval(0.5, 1.5))
add("plotting.attacks.wilson_interval: accuracy above 1", "accuracy", lambda: PA.wilson_interval([0.5, 1.5], 10))
add("plotting.attacks.wilson_interval: accuracy NaN", "accuracy", lambda: PA.wilson_interval(NAN, 10))
add("plotting.attacks.wilson_interval: z is 0", "z", lambda: PA.wilson_interval(0.5, 10, z=0))
add("plotting.attacks.accuracy_figure: band is a string", "band",
    lambda: PA.accuracy_figure({"fgsm": {"eps": [0.1], "top1": [0.5], "n": 4}}, band="yes"))

_int = lambda **kw: PA.interpretability_figure(**{"x": images()[0], "gradient": torch.randn(1, 28, 28),  # noqa: E731
                                                  "saliency_map": torch.rand(28, 28), "x_most_likely": images()[1],
                                                  "probs": _p5(), "probs_most_likely": _p5(), "categories": cats,
                                                  "eps": 2 / 255, **kw})
add("plotting.attacks.interpretability_figure: x is a batch", "x", lambda: _int(x=images()))
add("plotting.attacks.interpretability_figure: gradient has NaNs", "gradient",
    lambda: _int(gradient=torch.full((1, 28, 28), NAN)))
add("plotting.attacks.interpretability_figure: gradient of another shape", "gradient",
    lambda: _int(gradient=torch.randn(3, 28, 28)))
add("plotting.attacks.interpretability_figure: saliency_map of another shape", "saliency_map",
    lambda: _int(saliency_map=torch.rand(14, 14)))
add("plotting.attacks.interpretability_figure: saliency_map has NaNs", "saliency_map",
    lambda: _int(saliency_map=torch.full((28, 28), NAN)))
add("plotting.attacks.interpretability_figure: x_most_likely is 0-255", "x_most_likely",
    lambda: _int(x_most_likely=images()[1] * 255))
add("plotting.attacks.interpretability_figure: probs_most_likely are logits", "probs_most_likely",
    lambda: _int(probs_most_likely=torch.linspace(-2, 2, 10)))
add("plotting.attacks.interpretability_figure: percentile 0", "percentile", lambda: _int(percentile=0))
add("plotting.attacks.interpretability_figure: percentile 101", "percentile", lambda: _int(percentile=101))
add("plotting.attacks.interpretability_figure: eps is NaN", "eps", lambda: _int(eps=NAN))
