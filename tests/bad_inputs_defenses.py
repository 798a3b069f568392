"""Bad-input cases for lesson 09 (``lectures_lib.defenses`` and its figures in ``plotting.defenses``): each call
has one bad argument and must raise a clear error naming it (see ``bad_inputs.py``)."""
from __future__ import annotations

import torch
from bad_inputs import BAD_IMAGES, Case, images, labels, tiny_cnn

from lectures_lib import defenses as D
from lectures_lib.plotting import defenses as PD

NAN, INF = float("nan"), float("inf")
CASES: list[Case] = []


def add(id: str, names: str, call) -> None:
    CASES.append(Case(id, call, names))


def _trained_detector() -> D.Detector:
    return D.Detector(tiny_cnn(), "4").fit(images(), images().flip(0), epochs=1)


# --------------------------------------------------------------------------- every bad image, every method
IMAGE_METHODS = {
    "defenses.bit_depth": ("x", lambda x: D.bit_depth(x, 2)),
    "defenses.median_filter": ("x", lambda x: D.median_filter(x, 3)),
    "defenses.fgsm_random_start": ("x", lambda x: D.fgsm_random_start(tiny_cnn(), x, labels(), eps=0.1)),
    "defenses.bpda": ("x", lambda x: D.bpda(x, lambda z: z)),
    "defenses.logit_profile": ("x", lambda x: D.logit_profile(tiny_cnn(), x, images(), [0, 1])),
    "defenses.robust_accuracy": ("data", lambda x: D.robust_accuracy(
        tiny_cnn(), (x, labels(x.shape[0] if isinstance(x, torch.Tensor) and x.dim() == 4 else 4)),
        {"none": lambda m, a, b: a})),
    "defenses.Detector.fit": ("x_clean", lambda x: D.Detector(tiny_cnn(), "4").fit(x, images(), epochs=1)),
    "defenses.Detector.detect": ("x", lambda x: _trained_detector().detect(x)),
    "plotting.defenses.transform_figure": ("x", lambda x: PD.transform_figure(x, {"same": x})),
}
for fn, (arg, call) in IMAGE_METHODS.items():
    for why, bad in BAD_IMAGES.items():
        if fn in ("defenses.bit_depth", "defenses.median_filter", "defenses.bpda",
                  "plotting.defenses.transform_figure", "defenses.Detector.fit") and why == "wrong channels":
            continue  # any number of channels is fine there
        if fn in ("defenses.bit_depth", "defenses.median_filter", "defenses.bpda") and why == "empty batch":
            continue  # an empty batch transforms to an empty batch
        add(f"{fn}: {arg} is {why}", arg, lambda call=call, bad=bad: call(bad()))

# --------------------------------------------------------------------------- transforms
for why, v in (("0", 0), ("negative", -1), ("2.5", 2.5), ("NaN", NAN), ("a string", "4"), ("True", True),
               ("65", 65)):
    add(f"defenses.bit_depth: bits is {why}", "bits", lambda v=v: D.bit_depth(images(), v))
for why, v in (("0", 0), ("even", 4), ("2.5", 2.5), ("NaN", NAN), ("a string", "3"), ("too large", 57)):
    add(f"defenses.median_filter: k is {why}", "k", lambda v=v: D.median_filter(images(), v))
for why, v in (("0", 0), ("101", 101), ("2.5", 2.5), ("NaN", NAN), ("a string", "high")):
    add(f"defenses.jpeg: quality is {why}", "quality", lambda v=v: D.jpeg(images(), v))
add("defenses.jpeg: x has 2 channels", "channels", lambda: D.jpeg(images(channels=2)))
add("defenses.jpeg: x is 0-255 floats", "x", lambda: D.jpeg(images() * 255))
add("defenses.jpeg: x is NaN", "x", BAD_IMAGES["NaN"] and (lambda: D.jpeg(BAD_IMAGES["NaN"]())))
add("defenses.bpda: transform is a string", "transform", lambda: D.bpda(images(), "jpeg"))
add("defenses.with_transform: transform is None", "transform", lambda: D.with_transform(tiny_cnn(), None))
add("defenses.with_transform: model is a string", "model", lambda: D.with_transform("lenet", D.jpeg))
add("defenses.with_transform: bpda is a string", "bpda", lambda: D.with_transform(tiny_cnn(), D.jpeg, bpda="yes"))
for why, v in (("0", 0), ("2.5", 2.5), ("negative", -2), ("NaN", NAN)):
    add(f"defenses.with_transform: eot_samples is {why}", "eot_samples",
        lambda v=v: D.with_transform(tiny_cnn(), D.jpeg, eot_samples=v))

# --------------------------------------------------------------------------- adversarial training
for why, v in (("NaN", NAN), ("negative", -0.1), ("above 1", 1.5), ("a string", "0.3"), ("None", None)):
    add(f"defenses.fgsm_random_start: eps is {why}", "eps",
        lambda v=v: D.fgsm_random_start(tiny_cnn(), images(), labels(), eps=v))
    add(f"defenses.fast_adversarial_training: eps is {why}", "eps", lambda v=v: D.fast_adversarial_training(v))
    add(f"defenses.pgd_training: eps is {why}", "eps", lambda v=v: D.pgd_training(v, 0.01, 5))
for why, v in (("0", 0.0), ("NaN", NAN), ("above 1", 2.0)):
    add(f"defenses.fgsm_random_start: alpha is {why}", "alpha",
        lambda v=v: D.fgsm_random_start(tiny_cnn(), images(), labels(), eps=0.1, alpha=v))
    add(f"defenses.pgd_training: alpha is {why}", "alpha", lambda v=v: D.pgd_training(0.1, v, 5))
add("defenses.fast_adversarial_training: alpha is 0", "alpha", lambda: D.fast_adversarial_training(0.3, alpha=0))
add("defenses.fast_adversarial_training: ramp_steps is -1", "ramp_steps",
    lambda: D.fast_adversarial_training(0.3, ramp_steps=-1))
add("defenses.fast_adversarial_training: ramp_steps is 2.5", "ramp_steps",
    lambda: D.fast_adversarial_training(0.3, ramp_steps=2.5))
for why, v in (("0", 0), ("2.5", 2.5), ("NaN", NAN)):
    add(f"defenses.pgd_training: steps is {why}", "steps", lambda v=v: D.pgd_training(0.1, 0.01, v))
add("defenses.fgsm_random_start: y out of range", "y",
    lambda: D.fgsm_random_start(tiny_cnn(), images(), labels() + 10, eps=0.1))
add("defenses.fgsm_random_start: model is None", "model",
    lambda: D.fgsm_random_start(None, images(), labels(), eps=0.1))
add("defenses.fgsm_random_start: generator is a seed", "generator",
    lambda: D.fgsm_random_start(tiny_cnn(), images(), labels(), eps=0.1, generator=3))
add("defenses.ensemble_adversarial_training: static_models empty", "static_models",
    lambda: D.ensemble_adversarial_training([], 0.1))
add("defenses.ensemble_adversarial_training: static_models a model", "static_models",
    lambda: D.ensemble_adversarial_training(tiny_cnn(), 0.1))
add("defenses.ensemble_adversarial_training: static_models holds a string", "static_models",
    lambda: D.ensemble_adversarial_training(["lenet"], 0.1))
add("defenses.ensemble_adversarial_training: eps NaN", "eps",
    lambda: D.ensemble_adversarial_training([tiny_cnn()], NAN))
for why, v in (("0", 0.0), ("above 1", 1.5), ("NaN", NAN)):
    add(f"defenses.ensemble_adversarial_training: fraction is {why}", "fraction",
        lambda v=v: D.ensemble_adversarial_training([tiny_cnn()], 0.1, fraction=v))
for why, kw, name in ((("defence unknown"), {"defence": "magic"}, "defence"),
                      ("dataset unknown", {"dataset": "cifar10"}, "dataset"),
                      ("seed negative", {"seed": -1}, "seed"), ("seed 1.5", {"seed": 1.5}, "seed")):
    add(f"defenses.defence_recipe: {why}", name, lambda kw=kw: D.defence_recipe(**kw))
    add(f"defenses.defended_model: {why}", name, lambda kw=kw: D.defended_model(**kw))
add("defenses.defended_model: progress is a string", "progress", lambda: D.defended_model(progress="no"))
add("defenses.WongNet: num_classes 1", "num_classes", lambda: D.WongNet(1))

# --------------------------------------------------------------------------- detector
add("defenses.Detector: model is a function", "model", lambda: D.Detector(lambda x: x, "4"))
add("defenses.Detector: layer unknown", "layer", lambda: D.Detector(tiny_cnn(), "conv99"))
add("defenses.Detector: hidden 0", "hidden", lambda: D.Detector(tiny_cnn(), "4", hidden=0))
add("defenses.Detector: levels 1", "levels", lambda: D.Detector(tiny_cnn(), "4", levels=1))
add("defenses.Detector: used before fit", "fit", lambda: D.Detector(tiny_cnn(), "4")(images()))
add("defenses.Detector.fit: x_adv NaN", "x_adv",
    lambda: D.Detector(tiny_cnn(), "4").fit(images(), BAD_IMAGES["NaN"]()))
add("defenses.Detector.fit: x_adv one image", "x_adv", lambda: D.Detector(tiny_cnn(), "4").fit(images(), images()[:1]))
for why, v in (("0", 0.0), ("1", 1.0), ("NaN", NAN)):
    add(f"defenses.Detector.fit: false_positive_rate is {why}", "false_positive_rate",
        lambda v=v: D.Detector(tiny_cnn(), "4").fit(images(), images(), false_positive_rate=v))
add("defenses.Detector.fit: epochs 0", "epochs", lambda: D.Detector(tiny_cnn(), "4").fit(images(), images(), epochs=0))
add("defenses.Detector.fit: lr negative", "lr", lambda: D.Detector(tiny_cnn(), "4").fit(images(), images(), lr=-1.0))
add("defenses.Detector.detect: batch_size 0", "batch_size", lambda: _trained_detector().detect(images(), 0))
ev = lambda **kw: D.evade_detector(**{"model": tiny_cnn(), "detector": _trained_detector(), "x": images(),  # noqa: E731
                                      "y": labels(), "eps": 0.1, "alpha": 0.01, "steps": 2, **kw})
add("defenses.evade_detector: detector is a model", "detector", lambda: ev(detector=tiny_cnn()))
add("defenses.evade_detector: detector untrained", "detector", lambda: ev(detector=D.Detector(tiny_cnn(), "4")))
add("defenses.evade_detector: weight negative", "weight", lambda: ev(weight=-1.0))
add("defenses.evade_detector: weight NaN", "weight", lambda: ev(weight=NAN))
add("defenses.evade_detector: y too short", "y", lambda: ev(y=labels(2)))
add("defenses.evade_detector: y None", "y", lambda: ev(y=None))
add("defenses.evade_detector: eps above 1", "eps", lambda: ev(eps=2.0))
add("defenses.evade_detector: steps 0", "steps", lambda: ev(steps=0))
add("defenses.evade_detector: x NaN", "x", lambda: ev(x=BAD_IMAGES["NaN"]()))

# --------------------------------------------------------------------------- dense associative memory
for why, kw, name in (("power 0.5", {"power": 0.5}, "power"), ("power NaN", {"power": NAN}, "power"),
                      ("memories 0", {"memories": 0}, "memories"), ("in_features 0", {"in_features": 0}, "in_features"),
                      ("num_classes 1", {"num_classes": 1}, "num_classes"), ("beta 0", {"beta": 0.0}, "beta"),
                      ("scale negative", {"scale": -1.0}, "scale"), ("power a string", {"power": "3"}, "power")):
    add(f"defenses.DenseAssociativeMemory: {why}", name, lambda kw=kw: D.DenseAssociativeMemory(**kw))

# --------------------------------------------------------------------------- evaluation
ra = lambda **kw: D.robust_accuracy(**{"model": tiny_cnn(), "data": (images(), labels()),  # noqa: E731
                                       "attacks": {"none": lambda m, x, y: x}, **kw})
add("defenses.robust_accuracy: attacks empty", "attacks", lambda: ra(attacks={}))
add("defenses.robust_accuracy: attacks a list", "attacks", lambda: ra(attacks=[lambda m, x, y: x]))
add("defenses.robust_accuracy: an attack is a string", "attacks", lambda: ra(attacks={"pgd": "pgd"}))
add("defenses.robust_accuracy: an attack returns a crop", "attacks", lambda: ra(attacks={"crop": lambda m, x, y: x[:, :, :5]}))
add("defenses.robust_accuracy: an attack returns 0-255", "attacks", lambda: ra(attacks={"x255": lambda m, x, y: x * 255}))
add("defenses.robust_accuracy: data without labels", "labels", lambda: ra(data=images()))
add("defenses.robust_accuracy: data empty", "data", lambda: ra(data=(images()[:0], labels(0))))
add("defenses.robust_accuracy: batch_size 0", "batch_size", lambda: ra(batch_size=0))
add("defenses.robust_accuracy: model None", "model", lambda: ra(model=None))
add("defenses.robust_accuracy: progress a string", "progress", lambda: ra(progress="yes"))
lp = lambda **kw: D.logit_profile(**{"model": tiny_cnn(), "x": images(), "direction": images(),  # noqa: E731
                                     "t_values": [0.0, 0.5], **kw})
add("defenses.logit_profile: direction wrong shape", "direction", lambda: lp(direction=images(2)))
add("defenses.logit_profile: direction NaN", "direction", lambda: lp(direction=images() * NAN))
add("defenses.logit_profile: t_values one", "t_values", lambda: lp(t_values=[0.1]))
add("defenses.logit_profile: t_values a string", "t_values", lambda: lp(t_values="0,1"))
add("defenses.logit_profile: t_values NaN", "t_values", lambda: lp(t_values=[0.0, NAN]))
add("defenses.linearity_r2: profile a tensor", "profile", lambda: D.linearity_r2(torch.zeros(2, 3, 4)))

# --------------------------------------------------------------------------- figures
_profile = lambda: D.logit_profile(tiny_cnn(), images(), images(), [0.0, 0.5, 1.0])  # noqa: E731
add("plotting.defenses.profile_figure: profile a tensor", "profile", lambda: PD.profile_figure(torch.zeros(1, 3, 4)))
add("plotting.defenses.profile_figure: index 9", "index", lambda: PD.profile_figure(_profile(), 9))
add("plotting.defenses.profile_figure: classes too few", "classes", lambda: PD.profile_figure(_profile(), classes=["a"]))
add("plotting.defenses.defence_figure: results empty", "results", lambda: PD.defence_figure({}))
add("plotting.defenses.defence_figure: accuracy 1.5", "results", lambda: PD.defence_figure({"a": {"clean": 1.5}}))
add("plotting.defenses.defence_figure: a row a number", "results", lambda: PD.defence_figure({"a": 0.5}))
add("plotting.defenses.transform_figure: transformed wrong shape", "transformed",
    lambda: PD.transform_figure(images(), {"crop": images()[:, :, :5]}))
add("plotting.defenses.transform_figure: transformed empty", "transformed", lambda: PD.transform_figure(images(), {}))
add("plotting.defenses.detector_figure: scores empty", "scores", lambda: PD.detector_figure({}, 0.0))
add("plotting.defenses.detector_figure: threshold NaN", "threshold",
    lambda: PD.detector_figure({"clean": torch.randn(5)}, NAN))
add("plotting.defenses.detector_figure: a group empty", "scores",
    lambda: PD.detector_figure({"clean": torch.zeros(0)}, 0.0))
add("plotting.defenses.transfer_figure: matrix wrong shape", "matrix",
    lambda: PD.transfer_figure([[0.5, 0.5]], ["a", "b"], ["c", "d"]))
add("plotting.defenses.transfer_figure: matrix above 1", "matrix",
    lambda: PD.transfer_figure([[1.5]], ["a"], ["b"]))
add("defenses.margin_loss: logits 1-d", "logits", lambda: D.margin_loss(torch.zeros(4), labels()))
add("defenses.margin_loss: one class", "logits", lambda: D.margin_loss(torch.zeros(4, 1), labels() * 0))
add("defenses.margin_loss: y out of range", "y", lambda: D.margin_loss(torch.zeros(4, 3), labels() + 5))
add("defenses.margin_loss: y too short", "y", lambda: D.margin_loss(torch.zeros(4, 3), labels(2)))
add("defenses.pgd_training: ramp_steps negative", "ramp_steps", lambda: D.pgd_training(0.1, 0.01, 5, ramp_steps=-1))
add("defenses.dam_model: power 0", "power", lambda: D.dam_model(0))
add("defenses.dam_model: memories 0", "memories", lambda: D.dam_model(3, memories=0))
add("defenses.dam_model: seed -1", "seed", lambda: D.dam_model(3, seed=-1))
add("defenses.defended_model: epochs 0", "epochs", lambda: D.defended_model("fast", epochs=0))
