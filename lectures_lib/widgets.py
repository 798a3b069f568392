"""ipywidgets factories. Each returns a widget whose controls tests can set, after which the
``output`` shows the new figure; ``widget.state`` holds what the last render computed.

Widgets respond within half a second on a CPU: whatever is slower (model predictions over a
dataset) is precomputed when the widget is built, never inside a callback.
"""
from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable, Sequence

import ipywidgets as W
import matplotlib.pyplot as plt
import torch
from IPython.display import Image

from . import plotting
from .train import predict
from .validation import check_images, check_labels, check_range

__all__ = ["show_figure", "InteractiveFigure", "prediction_browser", "upload_classifier"]


def show_figure(output: W.Output, fig, clear: bool = True) -> None:
    """Show ``fig`` in ``output`` as a PNG and close it.

    Writing ``output.outputs`` directly works in a kernel and in tests alike.

    Parameters
    ----------
    output : ipywidgets.Output
    fig : matplotlib.figure.Figure
    clear : bool, default True
        Replace what ``output`` showed; False appends.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    if clear:
        output.outputs = ()
    output.append_display_data(Image(data=buf.getvalue(), format="png"))


class InteractiveFigure(W.VBox):
    """A column of controls above an ``Output`` that ``render`` redraws whenever a control changes.

    Parameters
    ----------
    render : callable
        ``render(**values) -> (Figure, state)``, called with each control's ``value`` under its key in ``controls``;
        called once on construction.
    controls : dict of str to ipywidgets.Widget
        Shown in one row.
    header : ipywidgets.Widget, optional
        Shown above the controls.

    Attributes
    ----------
    controls : dict of str to ipywidgets.Widget
    output : ipywidgets.Output
        Shows the last figure.
    state : object
        What the last render returned besides its figure.
    last_seconds : float
        How long the last render took, drawing included.
    renders : int
        How many renders so far.
    """

    def __init__(self, render: Callable[..., tuple], controls: dict[str, W.Widget], header: W.Widget | None = None):
        self.render, self.controls = render, controls
        self.output = W.Output()
        self.state, self.last_seconds, self.renders = None, 0.0, 0
        for c in controls.values():
            c.observe(lambda _change: self.update(), names="value")
        rows = ([header] if header is not None else []) + [W.HBox(list(controls.values())), self.output]
        super().__init__(rows)
        self.update()

    @contextlib.contextmanager
    def hold(self):
        """Change several controls inside the block and redraw once, at its end.

        Yields
        ------
        InteractiveFigure
            This widget.
        """
        self._held = True
        try:
            yield self
        finally:
            self._held = False
            self.update()

    def update(self) -> None:
        """Redraw with the controls' current values (deferred to the end of a :meth:`hold` block)."""
        if getattr(self, "_held", False):
            return
        start = time.perf_counter()
        fig, self.state = self.render(**{k: c.value for k, c in self.controls.items()})
        show_figure(self.output, fig)
        self.last_seconds = time.perf_counter() - start
        self.renders += 1


def prediction_browser(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor,
                       categories: Sequence[str], k: int = 5, batch_size: int = 256,
                       description: str = "image", probs: torch.Tensor | None = None) -> InteractiveFigure:
    """Browse images with a slider: each image, its true class and the model's top-``k`` probabilities.

    Predictions for all images are computed once, up front (or passed as ``probs``), never in the slider's callback.

    Parameters
    ----------
    model : nn.Module or callable
        Maps ``N x C x H x W`` images in [0, 1] to ``N x K`` logits (not run when ``probs`` is given).
    images : Tensor
        ``N x C x H x W`` in [0, 1], ``N >= 1``.
    labels : Tensor or sequence of int
        ``N`` true classes in ``[0, K)``.
    categories : sequence of str
        The ``K`` class names.
    k : int, default 5
        How many top classes to show, at least 1.
    batch_size : int, default 256
        Images per forward pass.
    description : str, default "image"
        The slider's label.
    probs : Tensor, optional
        ``N x K`` probabilities, when the notebook already has them.

    Returns
    -------
    InteractiveFigure
        With the control ``"index"`` (in ``[0, N)``) and ``state`` ``{"index", "predicted", "probs"}``
        (``probs``: the image's ``K`` probabilities).

    Raises
    ------
    ValueError
        For bad images or labels, or ``probs`` that is not ``N x K``.
    """
    check_images(images, "images", min_batch=1)
    check_range(k, "k", 1, integer=True)
    probs = predict(model, images, batch_size=batch_size) if probs is None else probs
    if not isinstance(probs, torch.Tensor) or tuple(probs.shape) != (len(images), len(categories)):
        raise ValueError(f"probs must be N x K = {(len(images), len(categories))} (one row per image, one column "
                         f"per category), got {getattr(probs, 'shape', type(probs).__name__)}")
    labels = check_labels(labels, len(images), len(categories), "labels")

    def render(index: int):
        p, y = probs[index], int(labels[index])
        pred = int(p.argmax())
        title = f"true: {categories[y]}\npredicted: {categories[pred]} ({p[pred]:.1%})"
        return plotting.image_with_topk(images[index], p, categories, k=k, true_class=y, title=title), {
            "index": index, "predicted": pred, "probs": p}

    slider = W.IntSlider(value=0, min=0, max=len(images) - 1, description=description, continuous_update=False)
    return InteractiveFigure(render, {"index": slider})


def upload_classifier(model: torch.nn.Module, categories: Sequence[str], preprocess: Callable,
                      k: int = 5) -> W.VBox:
    """A file-upload button: each uploaded image is preprocessed and shown with the model's top-``k`` probabilities.

    A file that is not a readable image gets a one-line message in the output, not a trace.

    Parameters
    ----------
    model : nn.Module or callable
        Maps ``1 x 3 x h x w`` images in [0, 1] to ``1 x K`` logits.
    categories : sequence of str
        The ``K`` class names.
    preprocess : callable
        ``preprocess(3 x H x W image in [0, 1]) -> 3 x h x w``, e.g. :func:`~lectures_lib.data.imagenet_preprocess`.
    k : int, default 5
        How many top classes to show.

    Returns
    -------
    ipywidgets.VBox
        The button above its output.
    """
    from .data import load_image_bytes

    upload = W.FileUpload(accept="image/*", multiple=False, description="upload image")
    out = W.Output()

    def on_upload(change) -> None:
        out.outputs = ()
        for item in change["new"]:
            try:
                image = preprocess(load_image_bytes(bytes(item["content"]), item["name"]))
            except ValueError as err:
                out.append_stdout(f"Could not use {item['name']}: {err}\n")
                continue
            fig = plotting.image_with_topk(image, predict(model, image[None])[0], categories, k=k,
                                           title=item["name"])
            show_figure(out, fig, clear=False)

    upload.observe(on_upload, names="value")
    return W.VBox([upload, out])
