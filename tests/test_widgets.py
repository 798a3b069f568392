import datetime
import io

import torch
from PIL import Image
from torch import nn

from lectures_lib import widgets


class Tiny(nn.Module):
    def forward(self, x):
        return torch.stack([x.mean(dim=(1, 2, 3)), 1 - x.mean(dim=(1, 2, 3))], 1) * 10


def test_prediction_browser_updates_on_slider():
    x = torch.stack([torch.full((1, 4, 4), 0.9), torch.full((1, 4, 4), 0.1)])
    w = widgets.prediction_browser(Tiny(), x, torch.tensor([0, 1]), ["bright", "dark"], k=2)
    assert w.state["predicted"] == 0 and w.renders == 1
    w.controls["index"].value = 1
    assert w.state["predicted"] == 1 and w.renders == 2  # latency: benchmarks/bench_widgets.py
    assert len(w.output.outputs) == 1


def _upload(widget, name, content):
    upload = widget.children[0]
    upload.value = ({"name": name, "type": "image/png", "size": len(content), "content": memoryview(content),
                     "last_modified": datetime.datetime.now(datetime.timezone.utc)},)


def test_upload_classifier_good_and_bad_files():
    w = widgets.upload_classifier(Tiny(), ["bright", "dark"], preprocess=lambda im: im, k=2)
    buf = io.BytesIO()
    Image.new("RGB", (6, 5), (250, 250, 250)).save(buf, format="PNG")
    _upload(w, "white.png", buf.getvalue())
    out = w.children[1].outputs
    assert any("image/png" in o.get("data", {}) for o in out)
    _upload(w, "notes.txt", b"not an image")
    text = "".join(o.get("text", "") for o in w.children[1].outputs)
    assert "Could not use notes.txt" in text


def test_hold_redraws_once_for_several_changes():
    x = torch.stack([torch.full((1, 4, 4), v) for v in (0.9, 0.1, 0.8)])
    w = widgets.prediction_browser(Tiny(), x, torch.tensor([0, 1, 0]), ["bright", "dark"], k=2)
    with w.hold():
        w.controls["index"].value = 1
        w.controls["index"].value = 2
    assert w.renders == 2 and w.state["index"] == 2
