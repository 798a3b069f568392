"""Lesson 05, network dissection: planted units with known answers, exact streaming thresholds, batch-size
independence, a brute-force reference for the IoU table, scikit-learn's Jaccard score, the released tables,
the three concept sources and the figures."""
from __future__ import annotations

import csv

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import jaccard_score
from torch import nn

from lectures_lib import dissection as D
from lectures_lib.plotting import dissection as PD

DTYPES = [torch.float32, torch.float64]


def planted(n: int = 6, size: int = 16, seed: int = 0, dtype=torch.float32):
    """Images whose red channel is a concept's mask (exactly ``count`` pixels on), a second concept in another
    category on half the images, and a 1x1 conv whose unit 0 copies the mask, unit 1 its complement, unit 2 noise."""
    g = torch.Generator().manual_seed(seed)
    masks = torch.zeros(n, 2, size, size, dtype=torch.long)
    images = torch.rand(n, 3, size, size, generator=g, dtype=torch.float64).to(dtype) * 0.5
    for i in range(n):
        r, c = (int(v) for v in torch.randint(0, size - 4, (2,), generator=g))
        masks[i, 0, r:r + 4, c:c + 4] = 1                       # concept 1 "square" (object), 16 pixels per image
        if i % 2 == 0:
            masks[i, 1, :, : size // 2] = 2                      # concept 2 "left" (texture), on half the images
    images[:, 0] = (masks[:, 0] == 1).to(dtype)
    data = D.TensorConceptSet(images, masks, ["-", "square", "left"], ["-", "object", "texture"])
    conv = nn.Conv2d(3, 3, 1)
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.zero_()
        conv.weight[0, 0] = 1
        conv.weight[1, 0] = -1
        conv.bias[1] = 1
        conv.weight[2, 1] = 1
    model = nn.Sequential(conv, nn.AdaptiveAvgPool2d(1), nn.Flatten()).to(dtype)
    return model, data, 16 / size ** 2


def brute_force_iou(model, layer, data, thresholds):
    """The IoU table by its definition, one concept at a time, in numpy (the reference)."""
    from lectures_lib.visualize import capture_activations

    x = torch.stack([data.image(i) for i in range(len(data))])
    acts = capture_activations(model, x, layer)[layer]
    labels = torch.stack([data.masks(i) for i in range(len(data))]).numpy()
    m = D.threshold_masks(acts, thresholds, labels.shape[2:]).numpy()              # N x U x h x w
    cats = np.array(data.categories)
    out = np.zeros((m.shape[1], len(data.concepts)))
    for c in range(1, len(data.concepts)):
        lc = (labels == c).any(1)                                                  # N x h x w
        annotated = np.array([np.isin(np.unique(labels[i]), np.nonzero(cats == cats[c])[0]).any() for i in range(len(x))])
        for u in range(m.shape[1]):
            inter = (m[:, u] & lc).sum()
            union = (m[annotated, u] | lc[annotated]).sum()
            out[u, c] = inter / union if union else 0.0
    return out


@pytest.mark.parametrize("dtype", DTYPES)
def test_planted_unit_gives_iou_one_and_its_complement_zero(dtype):
    model, data, coverage = planted(dtype=dtype)
    result = D.dissect(model, "0", data, quantile=coverage, progress=False)
    assert result.iou.shape == (3, 3) and result.iou.dtype == torch.float64
    assert result.iou[0, 1].item() == pytest.approx(1.0)                # the unit is the concept
    assert result.iou[1, 1].item() == 0.0                               # its complement never overlaps it
    assert result.thresholds.dtype == dtype
    table = result.table()
    assert table.label[0] == "square" and table.category[0] == "object"
    assert table.count("object") >= 1 and table.row(0)["object-iou"] == pytest.approx(1.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dissect_matches_the_brute_force_definition(dtype):
    model, data, _ = planted(n=5, seed=3, dtype=dtype)
    result = D.dissect(model, "0", data, quantile=0.05, progress=False)
    expected = brute_force_iou(model, "0", data, result.thresholds)
    np.testing.assert_allclose(result.iou.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_union_is_counted_only_on_images_annotated_in_the_category():
    model, data, _ = planted(n=4, seed=5)
    result = D.dissect(model, "0", data, quantile=0.05, progress=False)
    counts = result.counts
    # unit areas per category: "texture" only on the even images, "object" on all
    x = torch.stack([data.image(i) for i in range(4)])
    m = D.unit_masks(model, "0", x, result.thresholds, (16, 16))
    area = m.flatten(2).sum(2).double()                                   # N x U
    torch.testing.assert_close(counts.act[:, 0], area.sum(0))
    torch.testing.assert_close(counts.act[:, 1], area[::2].sum(0))


def test_iou_agrees_with_scikit_learn_jaccard():
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        a, b = torch.rand(3, 9, 11, generator=g) > 0.6, torch.rand(3, 9, 11, generator=g) > 0.5
        assert D.iou(a, b) == pytest.approx(jaccard_score(b.flatten().numpy(), a.flatten().numpy()))
    assert D.iou(torch.zeros(4, 4, dtype=torch.bool), torch.zeros(4, 4, dtype=torch.bool)) == 0.0


def test_streaming_thresholds_are_exact_and_keep_the_quantile_within_one_over_n():
    g = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 5, 3), nn.ReLU(), nn.Conv2d(5, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    x = torch.rand(37, 1, 14, 14, generator=g)
    for quantile in (0.005, 0.01, 0.1):
        streamed = D.unit_thresholds(model, "2", x, quantile, batch_size=8, progress=False)
        acts = model[2](model[1](model[0](x))).detach()
        values = acts.transpose(0, 1).flatten(1).numpy()                    # U x n
        n = values.shape[1]
        k = max(1, int(quantile * n + 0.5))                                 # round half up
        expected = -np.sort(-values, axis=1)[:, k]                          # the (k + 1)-th largest, numpy's sort
        np.testing.assert_allclose(streamed.numpy(), expected, rtol=1e-6)
        kept = (values > streamed.numpy()[:, None]).mean(1)
        assert np.all(np.abs(kept - quantile) <= 1 / n)                     # the bar
        torch.testing.assert_close(streamed, D.quantile_threshold(acts, quantile))


def test_thresholds_and_table_do_not_depend_on_batch_size():
    model, data, _ = planted(n=7, seed=2)
    results = [D.dissect(model, ["0"], data, quantile=0.05, batch_size=b, progress=False)["0"] for b in (1, 3, 7)]
    for r in results[1:]:
        torch.testing.assert_close(r.thresholds, results[0].thresholds, rtol=0, atol=0)
        torch.testing.assert_close(r.iou, results[0].iou, rtol=0, atol=0)
        assert torch.equal(r.top_images, results[0].top_images)


def test_precomputed_thresholds_give_the_same_result_and_several_layers_share_a_pass():
    model, data, _ = planted(n=4, seed=1)
    model = nn.Sequential(model[0], nn.ReLU(), model[1], model[2])
    both = D.dissect(model, ["0", "1"], data, quantile=0.05, progress=False)
    again = D.dissect(model, "1", data, quantile=0.05, thresholds=both["1"].thresholds, progress=False)
    torch.testing.assert_close(again.iou, both["1"].iou)


def test_released_tables_give_the_papers_numbers():
    places = D.released_results("alexnet_places365")
    assert len(places) == 256 and places.layer == "conv5"
    assert places.count("object") == 81 and places.distinct("object") == 40
    assert places.count() == 118                                            # interpretable units, any category
    assert places.row(107)["object-label"] == "road" and places.row(107)["object-iou"] == pytest.approx(0.155, abs=5e-4)
    assert places.row(79)["object-label"] == "car" and places.row(79)["object-iou"] == pytest.approx(0.139, abs=5e-4)
    assert places.histogram("object")[0][1] >= places.histogram("object")[-1][1]
    assert sum(n for _, n in places.histogram("object")) == 81
    assert places.units_per_category() == {"object": 60, "color": 1, "material": 2, "scene": 8, "texture": 38, "part": 9}
    imagenet = D.released_results("alexnet_imagenet")
    assert (imagenet.count("object"), imagenet.distinct("object"), imagenet.count()) == (49, 21, 97)
    resnet = D.released_results("resnet152_places365")
    assert (len(resnet), resnet.count("object"), resnet.count()) == (2048, 774, 1452)


def test_concept_probe_masks_are_exact_and_seeded():
    a, b, c = D.concept_probe(6, seed=4, size=64, mask_size=64), D.concept_probe(6, seed=4, size=64, mask_size=64), \
        D.concept_probe(6, seed=5, size=64, mask_size=64)
    assert torch.equal(a._images, b._images) and torch.equal(a._masks, b._masks)
    assert not torch.equal(a._images, c._images)
    protos = {name: torch.tensor(D.BRODEN_COLORS[name]) / 255 for name in D.PROBE_COLORS}
    for i in range(6):
        x, m = a[i]
        obj = m[2] > 0
        assert obj.any() and a.concepts[int(m[2][obj][0])] == a.objects[int(a.targets[i])]
        assert not (m[1] > 0)[obj].any()                                     # the object covers the texture
        fg = a.concepts[int(m[0][obj][0])][:-2]
        mean = x[:, obj].mean(1)                                             # object pixels: nearest to its colour
        assert min(protos, key=lambda c: float((protos[c] - mean).norm())) == fg
        assert {a.categories[int(v)] for v in m.unique() if v > 0} <= {"color", "texture", "object"}


def test_color_names_of_the_prototypes_and_real_images():
    protos = torch.tensor(list(D.BRODEN_COLORS.values()), dtype=torch.float64).T[:, None, :] / 255   # 3 x 1 x 11
    assert D.name_colors(protos[None]).flatten().tolist() == list(range(1, 12))
    sets = D.color_concepts(torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    assert sets.masks(0).shape == (1, 16, 16) and sets.concepts[4] == "grey-c" and len(sets) == 3


def _write_broden(root):
    """A tiny folder in Broden's format: 3 images, label images coded R + 256 G, scene labels by number."""
    (root / "images").mkdir(parents=True)
    with open(root / "label.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["number", "name", "category", "frequency", "coverage", "syns"])
        w.writerows([[1, "sky", "object(3)", 3, 1, ""], [2, "wheel", "part(2)", 2, 1, ""],
                     [300, "street-s", "scene(1)", 1, 1, ""]])
    rows = []
    g = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray((g.random((32, 32, 3)) * 255).astype(np.uint8)).save(root / "images" / f"im{i}.jpg")
        obj = np.zeros((16, 16, 3), np.uint8)
        obj[: 4 + i, :, 0] = 1                                              # sky on the top rows (label 1 = R 1)
        Image.fromarray(obj).save(root / "images" / f"im{i}_object.png")
        part = np.zeros((16, 16, 3), np.uint8)
        part[8:, 8:, 0] = 2
        Image.fromarray(part).save(root / "images" / f"im{i}_part.png")
        rows.append({"image": f"im{i}.jpg", "split": "train", "ih": 32, "iw": 32, "sh": 16, "sw": 16, "color": "",
                     "object": f"im{i}_object.png", "part": f"im{i}_part.png" if i < 2 else "", "material": "",
                     "scene": "300" if i == 0 else "", "texture": ""})
    rows[2]["object"] += ";"
    with open(root / "index.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def test_broden_reader_decodes_label_images_and_scene_labels(tmp_path):
    _write_broden(tmp_path)
    data = D.broden(tmp_path, size=32)
    assert len(data) == 3 and data.concepts == ["-", "sky", "wheel", "street-s"]
    assert data.categories == ["-", "object", "part", "scene"]
    x, m = data[0]
    assert x.shape == (3, 32, 32) and m.shape[1:] == (16, 16)
    assert (m == 1).any(0)[:4].all() and not (m == 1).any(0)[4:].any()    # sky: the top 4 rows
    assert (m == 2).any(0)[8:, 8:].all() and (m == 3).all(0).sum() == 0 and (m == 3).any(0).all()
    assert not (data.masks(2) == 2).any()                                  # no part image for the third
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    result = D.dissect(model, "0", data, quantile=0.05, progress=False)
    assert result.iou.shape == (4, 4) and torch.isfinite(result.iou).all()


def test_probe_model_control_is_seeded_and_dissectable():
    a, b = D.probe_model(pretrained=False), D.probe_model(pretrained=False)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    data = D.concept_probe(12, seed=0, size=96)
    result = D.dissect(a, ["relu2", "relu4"], data, quantile=0.01, progress=False)
    assert result["relu4"].iou.shape == (64, len(data.concepts))


def test_figures_have_titles_labels_and_colour_bars():
    model, data, _ = planted(n=4)
    result = D.dissect(model, "0", data, quantile=0.05, progress=False)
    x, m = data[0]
    fig = PD.unit_concept_figure(x, x[0], float(result.thresholds[0]), m[0] == 1, unit_name="unit 0", concept_name="square")
    assert len(fig.axes) == 6 and "IoU" in fig.axes[4].get_title() and fig.axes[5].get_ylabel() == "activation"
    fig = PD.detector_histogram(D.released_results("alexnet_places365"), "object")
    assert "81/256" in fig.axes[0].get_title() and "40 distinct" in fig.axes[0].get_title()
    assert fig.axes[0].get_ylabel() == "number of units"
    fig = PD.category_bars({"a": {"object": 2, "color": 1}, "b": {"object": 0, "color": 3}}, {"a": 4, "b": 4}, fraction=True)
    assert fig.axes[0].get_ylabel() == "fraction of units" and fig.axes[0].get_legend() is not None
    x4 = torch.stack([data.image(i) for i in range(3)])
    masks = D.unit_masks(model, "0", x4, result.thresholds, (16, 16), unit=0)
    fig = PD.unit_gallery(x4, masks, masks, title="unit 0", titles=["a", "b", "c"])
    assert fig._suptitle is not None and "unit 0" in fig._suptitle.get_text()
    for f in plt.get_fignums():
        _text_inside(plt.figure(f))


def _text_inside(fig, slack: float = 2.0) -> None:
    """Every visible text of ``fig`` (titles, labels, ticks, legends) lies inside the figure."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    from matplotlib.text import Text

    for text in fig.findobj(match=Text):
        if not text.get_visible() or not text.get_text().strip():
            continue
        box = text.get_window_extent(renderer)
        assert box.x0 >= -slack and box.y0 >= -slack and box.x1 <= width + slack and box.y1 <= height + slack, \
            f"text {text.get_text()!r} leaves the figure: {box}"
