"""Bad-input cases for lesson 05 (``lectures_lib.dissection`` and its figures in ``plotting.dissection``): each
call has one bad argument and must raise a clear error naming it (see ``bad_inputs.py``)."""
from __future__ import annotations

import torch
from bad_inputs import BAD_IMAGES, Case, images, tiny_cnn

from lectures_lib import dissection as D
from lectures_lib.plotting import dissection as PD

# tiny_cnn's layers: "0" conv, "1" ReLU, "2" max-pool, "3" conv, "4" ReLU, "5" global pool, "6" flatten, "7" linear
CONV, LINEAR = "3", "7"
CONCEPTS, CATEGORIES = ["-", "square", "left"], ["-", "object", "texture"]


def _masks(n: int = 4, size: int = 28) -> torch.Tensor:
    m = torch.zeros(n, 2, size, size, dtype=torch.long)
    m[:, 0, 4:10, 4:10] = 1
    m[:, 1, :, :8] = 2
    return m


def _set(n: int = 4) -> D.TensorConceptSet:
    return D.TensorConceptSet(images(n), _masks(n), CONCEPTS, CATEGORIES)


class _Odd(D.ConceptSet):
    """A concept set whose masks break the protocol in one way (``how``)."""

    def __init__(self, how: str):
        self.how, self.concepts, self.categories = how, CONCEPTS, CATEGORIES

    def __len__(self) -> int:
        return 4

    def image(self, i: int) -> torch.Tensor:
        return images(4)[i]

    def masks(self, i: int):
        m = _masks(4)[i]
        if self.how == "float":
            return m.float()
        if self.how == "2-d":
            return m[0]
        if self.how == "sizes":
            return m if i == 0 else m[:, :14, :14]
        if self.how == "index":
            return m + 5
        return m.tolist()


def _result():
    return D.dissect(tiny_cnn(), CONV, _set(), quantile=0.05, progress=False)


def _places():
    return D.released_results("alexnet_places365")


CASES: list[Case] = []


def add(id: str, names: str, call) -> None:
    CASES.append(Case(f"dissection.{id}", call, names))


# --------------------------------------------------------------------------- images
for why, bad in BAD_IMAGES.items():
    add(f"unit_thresholds: data is {why}", "data",
        lambda bad=bad: D.unit_thresholds(tiny_cnn(), CONV, bad(), 0.05, progress=False))
    if why != "wrong channels":  # any channel count makes a concept set
        add(f"TensorConceptSet: images is {why}", "images",
            lambda bad=bad: D.TensorConceptSet(bad(), _masks(), CONCEPTS, CATEGORIES))
for why in ("uint8", "0-255 floats", "NaN", "negative", "3-d", "a list", "empty batch"):
    add(f"color_concepts: images is {why}", "images", lambda why=why: D.color_concepts(BAD_IMAGES[why]()))
    add(f"name_colors: images is {why}", "images", lambda why=why: D.name_colors(BAD_IMAGES[why]()))
add("color_concepts: grey images", "images", lambda: D.color_concepts(images(2, channels=1)))
add("name_colors: grey images", "images", lambda: D.name_colors(images(2, channels=1)))

# --------------------------------------------------------------------------- thresholds
for q in (0, -0.1, 0.7, float("nan"), float("inf"), "0.005", None):
    add(f"unit_thresholds: quantile is {q!r}", "quantile",
        lambda q=q: D.unit_thresholds(tiny_cnn(), CONV, images(), q, progress=False))
    add(f"dissect: quantile is {q!r}", "quantile", lambda q=q: D.dissect(tiny_cnn(), CONV, _set(), q, progress=False))
add("unit_thresholds: layer is linear", "convolutional",
    lambda: D.unit_thresholds(tiny_cnn(), LINEAR, images(), 0.05, progress=False))
add("unit_thresholds: unknown layer", "layer", lambda: D.unit_thresholds(tiny_cnn(), "conv9", images(), 0.05, progress=False))
add("unit_thresholds: layer is an int", "layer", lambda: D.unit_thresholds(tiny_cnn(), 3, images(), 0.05, progress=False))
add("unit_thresholds: layers is empty", "layer", lambda: D.unit_thresholds(tiny_cnn(), [], images(), 0.05, progress=False))
add("unit_thresholds: model is a function", "model",
    lambda: D.unit_thresholds(lambda x: x.mean((2, 3)), CONV, images(), 0.05, progress=False))
add("unit_thresholds: batch_size 0", "batch_size", lambda: D.unit_thresholds(tiny_cnn(), CONV, images(), 0.05, batch_size=0))
add("unit_thresholds: progress is 'no'", "progress", lambda: D.unit_thresholds(tiny_cnn(), CONV, images(), 0.05, progress="no"))
add("unit_thresholds: too few activations", "quantile",
    lambda: D.unit_thresholds(tiny_cnn(), CONV, images(1, size=2), 0.5, progress=False))
add("quantile_threshold: acts is 3-d", "acts", lambda: D.quantile_threshold(torch.rand(2, 3, 4)))
add("quantile_threshold: acts is int", "acts", lambda: D.quantile_threshold(torch.ones(2, 3, 4, 4, dtype=torch.long)))
add("quantile_threshold: quantile 1", "quantile", lambda: D.quantile_threshold(torch.rand(2, 3, 4, 4), 1.0))

# --------------------------------------------------------------------------- masks and IoU
add("threshold_masks: acts is 2-d", "acts", lambda: D.threshold_masks(torch.rand(4, 4), torch.zeros(4), (8, 8)))
add("threshold_masks: acts is a list", "acts", lambda: D.threshold_masks([[1.0]], torch.zeros(1), (8, 8)))
add("threshold_masks: wrong number of thresholds", "thresholds",
    lambda: D.threshold_masks(torch.rand(2, 3, 4, 4), torch.zeros(4), (8, 8)))
add("threshold_masks: size is one int", "size", lambda: D.threshold_masks(torch.rand(2, 3, 4, 4), torch.zeros(3), 8))
add("threshold_masks: size is zero", "size", lambda: D.threshold_masks(torch.rand(2, 3, 4, 4), torch.zeros(3), (0, 8)))
add("threshold_masks: size is a float", "size", lambda: D.threshold_masks(torch.rand(2, 3, 4, 4), torch.zeros(3), (8.5, 8)))
add("iou: shapes differ", "concept_masks",
    lambda: D.iou(torch.ones(2, 4, 4, dtype=torch.bool), torch.ones(2, 5, 4, dtype=torch.bool)))
add("unit_masks: unit out of range", "unit",
    lambda: D.unit_masks(tiny_cnn(), CONV, images(), torch.zeros(8), (28, 28), unit=8))
add("unit_masks: layer is linear", "convolutional", lambda: D.unit_masks(tiny_cnn(), LINEAR, images(), torch.zeros(10), (8, 8)))

# --------------------------------------------------------------------------- dissect
add("dissect: concept_data is a tensor", "concept_data", lambda: D.dissect(tiny_cnn(), CONV, images(), progress=False))
add("dissect: concept_data is a pair", "concept_data", lambda: D.dissect(tiny_cnn(), CONV, (images(), _masks()), progress=False))
add("dissect: layer is linear", "convolutional", lambda: D.dissect(tiny_cnn(), LINEAR, _set(), 0.05, progress=False))
add("dissect: unknown layer", "layer", lambda: D.dissect(tiny_cnn(), "conv9", _set(), 0.05, progress=False))
for t in (-0.1, 1.5, float("nan"), "0.04"):
    add(f"dissect: iou_threshold is {t!r}", "iou_threshold",
        lambda t=t: D.dissect(tiny_cnn(), CONV, _set(), 0.05, t, progress=False))
add("dissect: thresholds of the wrong length", "thresholds",
    lambda: D.dissect(tiny_cnn(), CONV, _set(), 0.05, thresholds=torch.zeros(3), progress=False))
add("dissect: thresholds for another layer", "thresholds",
    lambda: D.dissect(tiny_cnn(), CONV, _set(), 0.05, thresholds={"0": torch.zeros(4)}, progress=False))
add("dissect: one tensor of thresholds for two layers", "thresholds",
    lambda: D.dissect(tiny_cnn(), ["0", CONV], _set(), 0.05, thresholds=torch.zeros(8), progress=False))
add("dissect: batch_size is a float", "batch_size", lambda: D.dissect(tiny_cnn(), CONV, _set(), 0.05, batch_size=2.5))
for how, name in (("float", "masks"), ("2-d", "masks"), ("sizes", "same size"), ("index", "concept indices"), ("list", "masks")):
    add(f"dissect: concept_data's masks are {how}", name,
        lambda how=how: D.dissect(tiny_cnn(), CONV, _Odd(how), 0.05, progress=False))

# --------------------------------------------------------------------------- concept sets
add("TensorConceptSet: masks are float", "masks", lambda: D.TensorConceptSet(images(), _masks().float(), CONCEPTS, CATEGORIES))
add("TensorConceptSet: masks are 3-d", "masks", lambda: D.TensorConceptSet(images(), _masks()[:, 0], CONCEPTS, CATEGORIES))
add("TensorConceptSet: masks for fewer images", "masks", lambda: D.TensorConceptSet(images(), _masks(3), CONCEPTS, CATEGORIES))
add("TensorConceptSet: masks name unknown concepts", "masks",
    lambda: D.TensorConceptSet(images(), _masks() * 2, CONCEPTS, CATEGORIES))
add("TensorConceptSet: no '-' concept", "concepts",
    lambda: D.TensorConceptSet(images(), _masks(), ["square", "left", "x"], CATEGORIES))
add("TensorConceptSet: concepts is a string", "concepts", lambda: D.TensorConceptSet(images(), _masks(), "square", CATEGORIES))
add("TensorConceptSet: one category short", "categories",
    lambda: D.TensorConceptSet(images(), _masks(), CONCEPTS, CATEGORIES[:2]))
add("TensorConceptSet: an empty category", "categories",
    lambda: D.TensorConceptSet(images(), _masks(), CONCEPTS, ["-", "object", ""]))
add("TensorConceptSet: categories is None", "categories", lambda: D.TensorConceptSet(images(), _masks(), CONCEPTS, None))
add("ConceptSet.concept_index: unknown concept", "concept", lambda: _set().concept_index("wheel"))
add("color_concepts: mask_size 0", "mask_size", lambda: D.color_concepts(images(2, channels=3), mask_size=0))
add("color_concepts: mask_size larger than the image", "mask_size", lambda: D.color_concepts(images(2, channels=3), mask_size=64))
add("color_concepts: images is a string", "images", lambda: D.color_concepts("photos/"))
for n in (0, -1, 2.5, None):
    add(f"concept_probe: n is {n!r}", "n", lambda n=n: D.concept_probe(n))
add("concept_probe: seed is negative", "seed", lambda: D.concept_probe(2, seed=-1))
add("concept_probe: size 16", "size", lambda: D.concept_probe(2, size=16))
add("concept_probe: mask_size larger than size", "mask_size", lambda: D.concept_probe(2, size=64, mask_size=100))
add("broden: folder without index.csv", "root", lambda: D.broden("/nonexistent/broden"))
add("broden: unknown category", "categories", lambda: D.broden(_broden_root(), categories=["object", "smell"]))
add("broden: categories is a string", "categories", lambda: D.broden(_broden_root(), categories="object"))
add("broden: limit 0", "limit", lambda: D.broden(_broden_root(), limit=0))
add("broden: size 0", "size", lambda: D.broden(_broden_root(), size=0))


def _broden_root():
    import tempfile
    from pathlib import Path

    root = Path(tempfile.mkdtemp(prefix="broden_"))
    (root / "index.csv").write_text("image,split,ih,iw,sh,sw,color,object,part,material,scene,texture\n"
                                    "a.jpg,train,8,8,4,4,,,,,,\n")
    (root / "label.csv").write_text("number,name,category\n1,sky,object(1)\n")
    return root


# --------------------------------------------------------------------------- results and tables
add("released_results: unknown network", "name", lambda: D.released_results("vgg16_places365"))
add("released_results: name is an int", "name", lambda: D.released_results(365))
add("DissectionTable.detectors: unknown category", "category", lambda: _places().detectors("smell"))
add("DissectionTable.count: iou_threshold 2", "iou_threshold", lambda: _places().count("object", 2.0))
add("DissectionTable.histogram: unknown category", "category", lambda: _places().histogram("objects"))
add("DissectionTable.units_per_category: iou_threshold NaN", "iou_threshold",
    lambda: _places().units_per_category(float("nan")))
add("DissectionTable.row: unknown unit", "unit", lambda: _places().row(999))
add("Dissection.top_units: unknown concept", "concept", lambda: _result().top_units("wheel"))
add("Dissection.top_units: n 0", "n", lambda: _result().top_units("square", 0))
add("probe_model: seed is a string", "seed", lambda: D.probe_model("0"))
add("probe_model: n_train 10", "n_train", lambda: D.probe_model(n_train=10))
add("probe_model: epochs 0", "epochs", lambda: D.probe_model(epochs=0))
add("probe_model: pretrained is 'yes'", "pretrained", lambda: D.probe_model(pretrained="yes"))

# --------------------------------------------------------------------------- figures
add("unit_concept_figure: image is 4-d", "image",
    lambda: PD.unit_concept_figure(images(1), torch.rand(4, 4), 0.5, torch.ones(8, 8, dtype=torch.bool)))
add("unit_concept_figure: activation is 3-d", "activation",
    lambda: PD.unit_concept_figure(images(1)[0], torch.rand(1, 4, 4), 0.5, torch.ones(8, 8, dtype=torch.bool)))
add("unit_concept_figure: threshold is NaN", "threshold",
    lambda: PD.unit_concept_figure(images(1)[0], torch.rand(4, 4), float("nan"), torch.ones(8, 8, dtype=torch.bool)))
add("unit_concept_figure: concept_mask is 3-d", "concept_mask",
    lambda: PD.unit_concept_figure(images(1)[0], torch.rand(4, 4), 0.5, torch.ones(1, 8, 8, dtype=torch.bool)))
add("detector_histogram: table is a dict", "table", lambda: PD.detector_histogram({"object": 3}))
add("detector_histogram: unknown category", "category", lambda: PD.detector_histogram(_places(), "smell"))
add("detector_histogram: max_concepts 0", "max_concepts", lambda: PD.detector_histogram(_places(), max_concepts=0))
add("category_bars: counts empty", "counts", lambda: PD.category_bars({}))
add("category_bars: counts of numbers", "counts", lambda: PD.category_bars({"a": 3}))
add("category_bars: fraction without totals", "totals", lambda: PD.category_bars({"a": {"object": 1}}, fraction=True))
add("unit_gallery: images NaN", "images", lambda: PD.unit_gallery(BAD_IMAGES["NaN"](), torch.ones(4, 8, 8, dtype=torch.bool)))
add("unit_gallery: unit_masks for fewer images", "unit_masks",
    lambda: PD.unit_gallery(images(), torch.ones(3, 8, 8, dtype=torch.bool)))
add("unit_gallery: concept_masks of another size", "concept_masks",
    lambda: PD.unit_gallery(images(), torch.ones(4, 8, 8, dtype=torch.bool), torch.ones(4, 9, 8, dtype=torch.bool)))
add("unit_gallery: titles too short", "titles",
    lambda: PD.unit_gallery(images(), torch.ones(4, 8, 8, dtype=torch.bool), titles=["a"]))
