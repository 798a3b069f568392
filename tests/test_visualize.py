"""Tests for lectures_lib.visualize: Captum and scikit-learn as references, autograd as the judge of
receptive fields, tiny hand-made nets (in-place and reused ReLUs, functional padding, "same" padding)."""
import copy
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lectures_lib import models, plumbing
from lectures_lib import visualize as V
from lectures_lib.plotting import visualize as PV

captum_attr = pytest.importorskip("captum.attr")
pytestmark = [pytest.mark.filterwarnings("ignore:Setting backward hooks"),
              pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require gradients")]


class SmallNet(nn.Module):
    """conv-ReLU-maxpool-conv-ReLU-linear. ``reuse``: one ReLU module called twice; ``act``: ReLU or a ReLU6."""

    def __init__(self, inplace=False, reuse=False, act=nn.ReLU, seed=0, gain=1.0):
        super().__init__()
        torch.manual_seed(seed)
        self.c1, self.pool = nn.Conv2d(3, 4, 3, padding=1), nn.MaxPool2d(2)
        self.c2, self.fc = nn.Conv2d(4, 5, 3, stride=2), nn.Linear(5 * 3 * 3, 6)
        self.a1 = act(inplace=inplace)
        self.a2 = self.a1 if reuse else act(inplace=inplace)
        with torch.no_grad():
            for p in (self.c1.weight, self.c2.weight):
                p.mul_(gain)

    def forward(self, x):
        x = self.pool(self.a1(self.c1(x)))
        x = self.a2(self.c2(x))
        return self.fc(x.flatten(1))


class ReLU6AsReLU(nn.ReLU):
    """A ReLU6 that Captum takes for a ReLU (it hooks ``nn.ReLU`` modules only): the reference for our ReLU6 rule."""

    def forward(self, x):
        return F.relu6(x, inplace=self.inplace)


@pytest.fixture(scope="module")
def x():
    return torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(1))


VARIANTS = [(False, False), (True, False), (False, True), (True, True)]  # (inplace, reuse)


# --------------------------------------------------------------------------- activations

@pytest.mark.parametrize("inplace,reuse", VARIANTS)
def test_capture_activations_equals_captum_layer_activation(x, inplace, reuse):
    net = SmallNet(inplace, reuse).eval()
    ours = V.capture_activations(net, x, ["c1", "a1", "pool", "c2", "fc"])
    for name in ours:
        ref = captum_attr.LayerActivation(net, net.get_submodule(name)).attribute(x)
        assert torch.equal(ours[name], ref), name
    # the output of c1 is kept as it was, although an in-place ReLU overwrites that tensor afterwards
    assert torch.equal(ours["c1"], F.conv2d(x, net.c1.weight, net.c1.bias, padding=1))
    assert (ours["c1"] < 0).any()


def test_capture_restores_each_modules_mode_and_removes_hooks_after_an_error(x):
    net = SmallNet()
    net.train()
    net.c2.eval()                                        # a mixed state must come back as it was
    V.capture_activations(net, x, "c2")
    assert net.training and net.c1.training and not net.c2.training

    class Boom(nn.Module):
        def forward(self, x):
            raise KeyError("boom")

    broken = nn.Sequential(OrderedDict(conv=nn.Conv2d(3, 2, 3), relu=nn.ReLU(), boom=Boom())).train()
    with pytest.raises(KeyError):
        V.capture_activations(broken, x, ["conv", "relu"])
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in broken.modules())
    assert broken.training and broken.conv.training
    with pytest.raises(KeyError):
        V.deconvnet(broken, x, 0, layer="conv")
    assert all(not m._forward_hooks for m in broken.modules())


def test_bad_input_gets_a_clear_error(x):
    net = SmallNet().eval()
    with pytest.raises(ValueError, match="layer 'nope' is not a module"):
        V.capture_activations(net, x, ["nope"])
    with pytest.raises(ValueError, match="x must have 3 channel"):
        V.capture_activations(net, torch.rand(2, 1, 16, 16), "c1")
    with pytest.raises(ValueError, match=r"x must have shape B x C x H x W"):
        V.capture_activations(net, torch.rand(3, 16, 16), "c1")
    with pytest.raises(ValueError, match=r"cannot run on x of shape \(2, 3, 20, 20\)"):
        V.capture_activations(net, torch.rand(2, 3, 20, 20), "fc")
    with pytest.raises(ValueError, match="x must hold values in"):
        V.guided_backprop(net, x * 3, 0)
    with pytest.raises(ValueError, match=r"target must be a channel index of layer 'c2' in \[0, 5\), got 5"):
        V.deconvnet(net, x, 5, layer="c2")
    with pytest.raises(ValueError, match=r"target must be a class index in \[0, 6\), got 6"):
        V.guided_backprop(net, x, 6)
    with pytest.raises(ValueError, match="unit must be <= 3"):
        V.top_activating_patches(net, x, "c1", 4, k=2, progress=False)
    with pytest.raises(ValueError, match="layer 'c9' is not a module"):
        V.top_activating_patches(net, x, "c9", 0, k=2, progress=False)
    with pytest.raises(ValueError, match="k must be <= 3"):
        V.top_activating_patches(net, x, "c1", 0, k=4, progress=False)
    with pytest.raises(ValueError, match="data must have 3 channel"):
        V.top_activating_patches(net, torch.rand(4, 1, 16, 16), "c1", 0, k=2, progress=False)
    with pytest.raises(ValueError, match="query_index must be an index"):
        V.nearest_neighbors(torch.rand(5, 3), 5, k=2)
    with pytest.raises(ValueError, match="metric must be one of"):
        V.nearest_neighbors(torch.rand(5, 3), 0, metric="manhattan")
    with pytest.raises(ValueError, match="position must be"):
        V.deconvnet(net, x, 0, layer="c2", position=(3, 0))
    with pytest.raises(ValueError, match="rule must be one of"):
        V.relu_rule("saliency")


# --------------------------------------------------------------------------- deconvnet and guided backprop

@pytest.mark.parametrize("inplace,reuse", VARIANTS)
def test_guided_backprop_and_deconvnet_equal_captum(x, inplace, reuse):
    net = SmallNet(inplace, reuse).eval()
    target = torch.tensor([0, 3, 5])
    ref_gbp = captum_attr.GuidedBackprop(net).attribute(x.clone(), target=target)
    ref_dec = captum_attr.Deconvolution(net).attribute(x.clone(), target=target)
    torch.testing.assert_close(V.guided_backprop(net, x, target), ref_gbp, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(V.deconvnet(net, x, target), ref_dec, rtol=1e-5, atol=1e-7)
    assert not torch.allclose(ref_gbp, ref_dec)          # the two rules differ on this net


@pytest.mark.parametrize("inplace,reuse", VARIANTS)
def test_unit_projections_equal_captum_neuron_methods(x, inplace, reuse):
    net = SmallNet(inplace, reuse).eval()
    acts = V.capture_activations(net, x, "c2")["c2"]
    for b in range(len(x)):
        for unit in (1, 4):
            row, col = divmod(int(acts[b, unit].flatten().argmax()), acts.shape[-1])
            xb = x[b:b + 1]
            ref_dec = captum_attr.NeuronDeconvolution(net, net.c2).attribute(xb.clone(), neuron_selector=(unit, row, col))
            ref_gbp = captum_attr.NeuronGuidedBackprop(net, net.c2).attribute(xb.clone(), neuron_selector=(unit, row, col))
            torch.testing.assert_close(V.deconvnet(net, xb, unit, layer="c2"), ref_dec, rtol=1e-5, atol=1e-7)
            torch.testing.assert_close(V.guided_backprop(net, xb, unit, layer="c2"), ref_gbp, rtol=1e-5, atol=1e-7)
    # a whole batch at once: each image projects its own strongest position
    batch = V.deconvnet(net, x, 4, layer="c2")
    single = torch.cat([V.deconvnet(net, x[b:b + 1], 4, layer="c2") for b in range(len(x))])
    torch.testing.assert_close(batch, single)


@pytest.mark.parametrize("inplace,reuse", [(False, False), (True, True)])
def test_relu6_rules_equal_captum_on_relu6(x, inplace, reuse):
    net = SmallNet(inplace, reuse, act=nn.ReLU6, gain=20.0).eval()
    ref_net = SmallNet(inplace, reuse, act=ReLU6AsReLU, gain=20.0).eval()
    acts = V.capture_activations(net, x, "c1")["c1"]
    assert (acts > 6).any() and (acts < 0).any()         # both ends of ReLU6 are reached
    target = torch.tensor([2, 2, 1])
    torch.testing.assert_close(V.guided_backprop(net, x, target),
                               captum_attr.GuidedBackprop(ref_net).attribute(x.clone(), target=target))
    torch.testing.assert_close(V.deconvnet(net, x, target),
                               captum_attr.Deconvolution(ref_net).attribute(x.clone(), target=target))
    # the saturated units matter: treating ReLU6 as a plain ReLU would give another map
    relu_net = SmallNet(inplace, reuse, act=nn.ReLU, gain=20.0).eval()
    assert not torch.allclose(V.guided_backprop(net, x, target), V.guided_backprop(relu_net, x, target))


def test_relu_rule_leaves_the_model_unchanged(x):
    net = SmallNet(inplace=True, reuse=True).eval()
    state = copy.deepcopy(net.state_dict())
    xg = x.clone().requires_grad_(True)
    (before,) = torch.autograd.grad(net(xg)[:, 1].sum(), xg)
    V.guided_backprop(net, x, 1)
    with pytest.raises(ZeroDivisionError), V.relu_rule("deconvnet"):
        net(x)
        raise ZeroDivisionError
    (after,) = torch.autograd.grad(net(xg)[:, 1].sum(), xg)
    assert torch.equal(before, after)                    # plain gradients again: nothing left behind
    assert all(torch.equal(v, state[k]) for k, v in net.state_dict().items())
    assert all(not m._forward_hooks and not m._backward_hooks and "forward" not in vars(m) for m in net.modules())
    with V.relu_rule("guided"):                          # forward values are the model's own
        assert torch.equal(net(x), SmallNet(inplace=True, reuse=True).eval()(x))


def test_relu_rule_catches_functional_relus_that_captum_misses(x):
    class Functional(SmallNet):
        def forward(self, x):
            x = self.pool(F.relu(self.c1(x)))
            return self.fc(torch.relu(self.c2(x)).flatten(1))

    torch.manual_seed(0)
    modular, functional = SmallNet().eval(), Functional().eval()
    torch.testing.assert_close(V.guided_backprop(functional, x, 2), V.guided_backprop(modular, x, 2))
    torch.testing.assert_close(V.deconvnet(functional, x, 2), V.deconvnet(modular, x, 2))


def test_projection_image_and_top_patch_projections(x):
    net = SmallNet().eval()
    g = V.guided_backprop(net, x, 0)
    img = V.projection_image(g)
    assert img.shape == g.shape and img.min() >= 0 and img.max() <= 1
    assert torch.allclose(img.flatten(1).sub(0.5).abs().amax(1), torch.full((3,), 0.5))
    top = V.top_activating_patches(net, x, "c2", [1, 3], k=2, progress=False)
    crops = V.project_top_patches(net, top, 3, method="deconvnet")
    assert crops.shape == top.patches(3).shape
    b, (r, c) = int(top.image_index[1, 0]), top.position[1, 0].tolist()
    full = V.projection_image(V.deconvnet(net, x[b:b + 1], 3, layer="c2"))[0]
    torch.testing.assert_close(crops[0], top.field.crop(full, r, c))


# --------------------------------------------------------------------------- receptive fields

def gradient_box(model, layer, unit, row, col, shape):
    """Bounding box of the support of d unit / d input (None if empty), and whether the support fills the box."""
    x = torch.rand(1, *shape, generator=torch.Generator().manual_seed(2), requires_grad=True)
    acts = plumbing.layer_outputs(model, x, [layer], keep_graph=True)[0][layer]
    (g,) = torch.autograd.grad(acts[0, unit, row, col], x)
    support = g[0].abs().sum(0) != 0
    if not support.any():
        return None, True
    rows, cols = support.any(1).nonzero().flatten(), support.any(0).nonzero().flatten()
    box = (int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1)
    return box, bool(support[box[0]:box[2], box[1]:box[3]].all())


def assert_boxes_match_gradients(model, layer, shape):
    rf = V.receptive_field(model.eval(), layer, image_shape=shape)
    h, w = rf.map_size
    for row, col in {(0, 0), (h // 2, w // 3), (h - 1, w - 1), (0, w - 1)}:
        box, filled = gradient_box(model, layer, 0, row, col, shape)
        top, left, bottom, right = rf.box(row, col)
        expected = (top, left, bottom, right) if bottom > top and right > left else None  # else all in the padding
        assert expected == box and filled, (layer, row, col, rf)


class PaddedNet(nn.Module):
    """Functional padding, an asymmetric ZeroPad2d, dilation, average pooling and a residual sum. (The dilated
    taps are 4 pixels apart and see 5 pixels each, so the field has no holes and fills its box.)"""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.pad = nn.ZeroPad2d((0, 1, 2, 0))
        self.c1 = nn.Conv2d(3, 4, 5, stride=2)
        self.c2 = nn.Conv2d(4, 4, 3, padding=2, dilation=2)
        self.pool = nn.AvgPool2d(3, stride=2, padding=1)
        self.c3 = nn.Conv2d(4, 3, (3, 1), padding=(1, 0))

    def forward(self, x):
        x = self.c1(self.pad(F.pad(x, (1, 1, 1, 1))))
        x = torch.tanh(x + self.c2(x))                  # a residual branch meets the identity
        return self.c3(self.pool(x))


@pytest.mark.parametrize("layer", ["c1", "c2", "pool", "c3"])
def test_receptive_field_boxes_are_exactly_the_gradient_support(layer):
    assert_boxes_match_gradients(PaddedNet(), layer, (3, 21, 19))


@pytest.mark.parametrize("layer", ["c1", "s2", "c3", "s4", "c5"])
def test_receptive_field_of_lenet5(layer):
    net = models.LeNet5("classic")                       # tanh and average pooling: nothing blocks a gradient
    assert_boxes_match_gradients(net, layer, (1, 28, 28))
    expected = {"c1": (5, 1), "s2": (6, 2), "c3": (14, 2), "s4": (16, 4), "c5": (32, 4)}[layer]
    rf = V.receptive_field(net, layer)
    assert (rf.size[0], rf.jump[0], rf.start) == (*expected, (-2, -2))  # F.pad by 2 moves every field


def test_receptive_field_of_efficientnet_lite0_same_padding():
    model = models.imagenet_model("efficientnet_lite0", pretrained=False)
    linear = copy.deepcopy(model)                        # ReLU6 -> identity: the support is the whole box
    for name, module in list(linear.named_modules()):
        if isinstance(module, nn.ReLU6):
            parent, _, child = name.rpartition(".")
            setattr(linear.get_submodule(parent), child, nn.Identity())
    stem = V.receptive_field(model, "net._conv_stem")
    assert (stem.size, stem.jump, stem.start) == ((3, 3), (2, 2), (0, 0))  # TF "same": pad 0 before, 1 after
    assert_boxes_match_gradients(linear, "net._blocks.3", (3, 224, 224))  # stem and blocks 0-3, two of stride 2
    assert V.receptive_field(model, "net._blocks.3") == V.receptive_field(linear, "net._blocks.3")
    full = V.receptive_field(model, "net._fc")
    assert full.jump == (0, 0) and full.box(0, 0) == (0, 0, 224, 224)


def test_receptive_field_box_contains_a_max_pool_networks_gradient(x):
    net = SmallNet().eval()
    rf = V.receptive_field(net, "c2", image_shape=(3, 16, 16))
    assert (rf.size, rf.jump, rf.start) == ((8, 8), (4, 4), (-1, -1))
    for row, col in ((0, 0), (2, 1)):
        (top, left, bottom, right), _ = gradient_box(net, "c2", 1, row, col, (3, 16, 16))
        bt, bl, bb, br = rf.box(row, col)
        assert bt <= top and bl <= left and bottom <= bb and right <= br


def test_crop_pads_where_the_field_leaves_the_image():
    rf = V.ReceptiveField(size=(5, 5), jump=(2, 2), start=(-2, -2), image_size=(6, 6), map_size=(3, 3))
    image = torch.arange(36.0).view(1, 6, 6)
    patch = rf.crop(image, 0, 0, fill=-1)
    assert patch.shape == (1, 5, 5) and rf.box(0, 0) == (0, 0, 3, 3)
    assert torch.equal(patch[0, 2:, 2:], image[0, :3, :3]) and (patch[0, :2] == -1).all()
    assert rf.offset == (0.0, 0.0)
    big = V.ReceptiveField(size=(9, 9), jump=(2, 2), start=(-4, -4), image_size=(6, 6), map_size=(3, 3))
    assert torch.equal(big.crop(image, 1, 1, fill=-1), image)          # sees it all: the whole image
    corner = big.crop(image, 0, 0, fill=-1)                            # rows/cols 0-4 seen, cut on top/left
    assert corner.shape == (1, 6, 6) and torch.equal(corner[0, 1:, 1:], image[0, :5, :5])
    assert (corner[0, 0] == -1).all() and (corner[0, :, 0] == -1).all()


# --------------------------------------------------------------------------- top patches

def test_top_patches_do_not_depend_on_the_batch_size_and_match_brute_force():
    net = SmallNet().eval()
    data = torch.rand(23, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    src = int(V.capture_activations(net, data, "c2")["c2"][:, 0].flatten(1).amax(1).argmax())
    dups = [i for i in (11, 17, 5) if i != src][:2]
    data[dups] = data[src].clone()                               # exact ties: the earlier image must come first
    runs = [V.top_activating_patches(net, data, "c2", k=5, batch_size=b, progress=False) for b in (1, 4, 23, 64)]
    for run in runs[1:]:
        assert torch.equal(run.image_index, runs[0].image_index) and torch.equal(run.position, runs[0].position)
        torch.testing.assert_close(run.values, runs[0].values)
    acts = V.capture_activations(net, data, "c2")["c2"]
    best = acts.flatten(2).amax(dim=2)                   # N x C per image
    for u in range(acts.shape[1]):
        order = torch.sort(best[:, u], descending=True, stable=True).indices[:5]
        assert runs[0].image_index[u].tolist() == order.tolist()
        torch.testing.assert_close(runs[0].values[u], best[order, u])
    assert runs[0].image_index[0, :3].tolist() == sorted([src, *dups])


def test_top_patches_crops_and_several_layers_in_one_pass():
    net = SmallNet().eval()
    data = torch.rand(10, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    labels = torch.arange(10)
    tops = V.top_activating_patches(net, (data, labels), ["c1", "c2", "fc"], k=3, progress=False)
    single = V.top_activating_patches(net, data, "c2", 2, k=3, progress=False)
    assert torch.equal(tops["c2"].image_index[2], single.image_index[0]) and single.units == [2]
    patches = tops["c2"].patches(2)
    assert patches.shape == (3, 3, 8, 8)
    i, (r, c) = int(single.image_index[0, 0]), single.position[0, 0].tolist()
    t, lft, b, rr = single.boxes(2)[0]
    top_, left = -1 + 4 * r, -1 + 4 * c                  # field of c2: size 8, jump 4, start -1
    assert (t, lft) == (max(top_, 0), max(left, 0))
    torch.testing.assert_close(patches[0, :, t - top_:b - top_, lft - left:rr - left], data[i, :, t:b, lft:rr])
    assert tops["fc"].patches(0).shape == (3, 3, 16, 16)  # a linear layer sees the whole image
    assert tops["c1"].strongest_units(2) == sorted(range(4), key=lambda u: -float(tops["c1"].values[u, 0]))[:2]
    with pytest.raises(ValueError, match="unit 0 was not searched"):
        single.patches(0)


# --------------------------------------------------------------------------- neighbours, t-SNE, plots

@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_nearest_neighbors_equal_scikit_learn_without_the_query(metric):
    from sklearn.neighbors import NearestNeighbors

    feats = torch.randn(40, 7, generator=torch.Generator().manual_seed(5))
    ref = NearestNeighbors(n_neighbors=5, metric=metric).fit(feats.numpy())
    dist, idx = ref.kneighbors(feats[[3, 17]].numpy())
    ours = V.nearest_neighbors(feats, [3, 17], k=4, metric=metric)
    assert ours.indices.tolist() == idx[:, 1:].tolist()  # scikit-learn lists the query itself first
    np.testing.assert_allclose(ours.distances.numpy(), dist[:, 1:], rtol=1e-5, atol=1e-6)
    one = V.nearest_neighbors(feats, 3, k=4, metric=metric)
    assert one.indices.shape == (4,) and 3 not in one.indices.tolist()


def test_neighbor_agreement_counts_same_label_neighbours():
    feats = torch.tensor([[0.0], [0.1], [0.2], [10.0], [10.1], [10.2]])
    assert V.neighbor_agreement(feats, torch.tensor([0, 0, 0, 1, 1, 1]), k=2) == 1.0
    assert V.neighbor_agreement(feats, torch.tensor([0, 1, 0, 1, 0, 1]), k=2, chunk=4) == pytest.approx(1 / 3)


def test_embed_tsne_is_seeded_and_separates_clusters():
    g = torch.Generator().manual_seed(6)
    feats = torch.cat([torch.randn(30, 60, generator=g), torch.randn(30, 60, generator=g) + 6])
    a, b = (V.embed_tsne(feats, perplexity=10, seed=0, max_iter=500) for _ in range(2))
    assert a.shape == (60, 2) and np.array_equal(a, b)
    assert V.neighbor_agreement(torch.from_numpy(a), torch.arange(60) // 30, k=5) == 1.0
    with pytest.raises(ValueError, match="perplexity"):
        V.embed_tsne(feats[:5], perplexity=10)


def test_grid_layout_gives_each_point_its_own_cell_and_keeps_the_layout():
    cy, cx = np.meshgrid(np.arange(3), np.arange(4), indexing="ij")
    points = np.stack([cx.ravel(), 2 - cy.ravel()], 1).astype(float)   # already a 3 x 4 grid, y up
    perm = np.random.default_rng(0).permutation(12)
    assert V.grid_layout(points[perm], 3, 4).tolist() == perm.tolist()
    cells = V.grid_layout(np.random.default_rng(1).random((50, 2)), 8, 8)
    assert len(set(cells.tolist())) == 50 and cells.max() < 64
    with pytest.raises(ValueError, match="fewer cells"):
        V.grid_layout(points, 3, 3)


def test_plots_return_figures():
    import matplotlib.pyplot as plt

    net = SmallNet().eval()
    images = torch.rand(12, 3, 16, 16, generator=torch.Generator().manual_seed(7))
    figs = [PV.plot_filters(net.c1), PV.plot_filters(net.c1.weight, shared_scale=True),
            PV.plot_filters(models.LeNet5().c1.weight),
            PV.plot_neighbors(images.flatten(1) * 2, images, [0, 5], k=3, titles=[f"im{i}" for i in range(12)]),
            PV.plot_embedding(np.random.default_rng(0).random((12, 2)), labels=torch.arange(12) % 3, classes=["a", "b", "c"]),
            PV.plot_embedding(np.random.default_rng(0).random((12, 2)), images=images),
            PV.plot_embedding(np.random.default_rng(0).random((12, 2)), images=images, grid=(3, 4), thumb=8)]
    assert all(isinstance(f, plt.Figure) for f in figs)
    assert figs[-1].axes[0].images[0].get_array().shape == (24, 32, 3)
    for f in figs:
        plt.close(f)
    with pytest.raises(ValueError, match="1 or 3 input channels"):
        PV.plot_filters(net.c2)


def test_method_module_draws_nothing():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(V))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {(node.module or "") for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {m for m in imported if m.split(".")[0] in ("matplotlib", "ipywidgets", "PIL", "plotting", "widgets")}
    assert not {m for m in imported if m in ("plotting", "widgets") or m.startswith(("plotting.", "widgets."))}
    assert set(V.__all__) <= set(dir(V)) and not any(n.startswith(("plot_", "activation_widget")) for n in V.__all__)


# --------------------------------------------------------------------------- the widget

def test_activation_maps_are_computed_once_for_the_widget():
    net = SmallNet().eval()
    images = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(8))
    maps = V.activation_maps(net, images, ["c1", "c2"])
    assert {k: tuple(v.shape) for k, v in maps.items()} == {"c1": (4, 4, 16, 16), "c2": (4, 5, 3, 3)}
    assert torch.equal(maps["c2"], V.capture_activations(net, images, "c2")["c2"])
    with pytest.raises(ValueError, match="not B x K x h x w maps"):
        V.activation_maps(net, images, ["fc"])


def test_activation_widget_redraws_from_precomputed_maps():
    net = SmallNet().eval()
    images = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(8))
    maps = V.activation_maps(net, images, ["c1", "c2"])
    box = PV.activation_widget(net, images, ["c1", "c2"])
    controls, renders = box.controls, box.renders
    for name, value in (("channel", 3), ("image", 2), ("layer", "c2"), ("channel", 4), ("image", 0)):
        controls[name].value = value
        assert box.renders > renders, name                # every change draws a new picture
        renders = box.renders
        state = box.state
        assert (state["layer"], state["channel"], state["image"]) == tuple(c.value for c in controls.values())
        torch.testing.assert_close(state["map"], maps[state["layer"]][state["image"], state["channel"]])
        assert state["vmax"] == float(maps[state["layer"]][:, state["channel"]].max())
    assert controls["channel"].max == 4 and "c2: 5 channels of 3 x 3" in box.state["info"]
    controls["layer"].value = "c1"
    assert controls["channel"].max == 3 and box.state["channel"] == 3 and box.state["layer"] == "c1"
    assert len(box.output.outputs) == 1
    with pytest.raises(ValueError, match="not B x K x h x w maps"):
        PV.activation_widget(net, images, ["fc"])


# --------------------------------------------------------------------------- dtypes and devices

DTYPES = [torch.float32, torch.float64]


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_method_works_on_float32_and_float64_models(x, dtype):
    net, ref = SmallNet().eval().to(dtype), SmallNet().eval().double()
    xd = x.to(dtype)
    acts = V.capture_activations(net, xd, ["c2", "fc"])
    assert all(a.dtype == dtype for a in acts.values())
    torch.testing.assert_close(acts["c2"].double(), V.capture_activations(ref, x.double(), "c2")["c2"],
                               rtol=1e-5, atol=1e-6)
    for method in (V.deconvnet, V.guided_backprop):
        for kwargs in ({}, {"layer": "c2"}, {"layer": "c2", "position": (1, 2)}):
            out = method(net, xd, None, **kwargs)
            assert out.dtype == dtype and out.shape == x.shape
            torch.testing.assert_close(out.double(), method(ref, x.double(), None, **kwargs), rtol=1e-4, atol=1e-6)
    feats = V.collect_features(net, xd, "c2", progress=False)
    assert feats.dtype == dtype and feats.shape == (3, 45)
    top = V.top_activating_patches(net, xd, "c2", k=2, progress=False)
    assert top.values.dtype == dtype and top.patches(0).dtype == dtype
    assert V.project_top_patches(net, top, 1, method="guided").dtype == dtype
    assert V.projection_image(out).dtype == dtype
    nn_ = V.nearest_neighbors(feats, 0, k=2)
    assert nn_.distances.dtype == dtype
    assert V.receptive_field(net, "c2", image_shape=(3, 16, 16)).size == (8, 8)


@pytest.mark.parametrize("model_dtype,x_dtype", [(torch.float32, torch.float64), (torch.float64, torch.float32)])
def test_images_of_another_dtype_than_the_model_work_and_keep_their_dtype(x, model_dtype, x_dtype):
    net = SmallNet().eval().to(model_dtype)
    xd = x.to(x_dtype)
    assert V.capture_activations(net, xd, "c1")["c1"].dtype == x_dtype
    g = V.guided_backprop(net, xd, 2)
    assert g.dtype == x_dtype
    torch.testing.assert_close(g.float(), V.guided_backprop(SmallNet().eval(), x, 2), rtol=1e-4, atol=1e-6)
    assert V.collect_features(net, xd, "fc", progress=False).dtype == x_dtype


def test_target_none_is_the_predicted_class_or_the_strongest_channel(x):
    net = SmallNet().eval()
    pred = net(x).argmax(1)
    for method in (V.deconvnet, V.guided_backprop):
        torch.testing.assert_close(method(net, x), method(net, x, pred))
        strongest = V.capture_activations(net, x, "c2")["c2"].flatten(2).amax(2).argmax(1)
        torch.testing.assert_close(method(net, x, layer="c2"), method(net, x, strongest, layer="c2"))
        assert not torch.allclose(method(net, x, layer="c2"), method(net, x, (strongest + 1) % 5, layer="c2"))


def test_projections_do_not_depend_on_the_batch_size(x):
    net = SmallNet().eval()
    for kwargs in ({}, {"layer": "c2"}, {"layer": "c2", "position": torch.tensor([[0, 0], [1, 2], [2, 2]])}):
        torch.testing.assert_close(V.guided_backprop(net, x, **kwargs, batch_size=1), V.guided_backprop(net, x, **kwargs))


def test_nearest_neighbors_refuses_non_finite_features():
    feats = torch.randn(6, 3, generator=torch.Generator().manual_seed(9))
    feats[2, 1] = float("nan")
    with pytest.raises(ValueError, match=r"features must be finite.*rows \[2\]"):
        V.nearest_neighbors(feats, 2, k=2)
    with pytest.raises(ValueError, match="features must be finite"):
        V.neighbor_agreement(feats, torch.arange(6) % 2, k=2)
    with pytest.raises(ValueError, match="features must be finite"):
        V.embed_tsne(feats, perplexity=2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_results_come_back_on_the_device_of_x(x):
    net = SmallNet().eval().cuda()
    assert V.guided_backprop(net, x, 1).device == x.device                   # CPU images, GPU model
    xc = x.cuda()
    assert V.deconvnet(net, xc, layer="c2").device == xc.device
    assert V.capture_activations(net, xc, "c1")["c1"].device == xc.device
    assert V.top_activating_patches(net, xc, "c2", k=2, progress=False).values.device == xc.device


# --------------------------------------------------------------------------- deconvnet without switches, depth, selectivity

def test_without_switches_the_projection_is_the_same_for_every_image(x):
    net = SmallNet().eval()
    others = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(5))
    for layer, position in ((None, None), ("c2", (1, 2))):
        a = V.deconvnet_without_switches(net, x, 2, layer=layer, position=position)
        b = V.deconvnet_without_switches(net, others, 2, layer=layer, position=position)
        assert a.abs().max() > 0
        torch.testing.assert_close(a, a[:1].expand_as(a))                   # identical across images ...
        torch.testing.assert_close(a, b)                                     # ... whatever the images
        with_switches = V.deconvnet(net, x, 2, layer=layer, position=position)
        assert not torch.allclose(with_switches, with_switches[:1].expand_as(with_switches))


def test_no_switches_spreads_each_pooled_signal_over_its_window():
    pool = nn.Sequential(nn.MaxPool2d(2))
    x = torch.rand(1, 1, 4, 4, requires_grad=True)
    grad_out = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    with V.no_switches():
        y = pool(x)
    torch.testing.assert_close(y, F.max_pool2d(x, 2))                       # the forward pass is unchanged
    (g,) = torch.autograd.grad(y, x, grad_out)
    torch.testing.assert_close(g, grad_out.repeat_interleave(2, -1).repeat_interleave(2, -2))
    (g_switch,) = torch.autograd.grad(pool(x), x, grad_out)                  # outside the block: the switches again
    assert int((g_switch != 0).sum()) == 4
    # overlapping windows with padding (AlexNet's 3x3 stride-2 pools): every input gets the sum over its windows
    x = torch.rand(1, 1, 7, 7, requires_grad=True)
    with V.no_switches():
        y = F.max_pool2d(x, 3, 2, 1)
    (g,) = torch.autograd.grad(y, x, torch.ones_like(y))
    ones = torch.ones(1, 1, 7, 7, requires_grad=True)
    (expected,) = torch.autograd.grad(F.avg_pool2d(ones, 3, 2, 1, divisor_override=1), ones, torch.ones_like(y))
    torch.testing.assert_close(g, expected)


def test_without_max_pooling_the_two_deconvnets_agree(x):
    net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(), nn.Conv2d(4, 5, 3), nn.ReLU(), nn.Flatten(),
                        nn.LazyLinear(6))
    net(x)
    net.eval()
    torch.testing.assert_close(V.deconvnet_without_switches(net, x, 1), V.deconvnet(net, x, 1))


def test_deconvnet_without_switches_by_hand():
    # y = w . maxpool(relu(x)) on a 1 x 2 x 2 image: without switches the signal reaches all four pixels.
    net = nn.Sequential(nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1, 2, bias=False))
    with torch.no_grad():
        net[3].weight.copy_(torch.tensor([[2.0], [-1.0]]))
    x = torch.tensor([[[[0.1, 0.9], [0.3, 0.2]]]])
    torch.testing.assert_close(V.deconvnet_without_switches(net, x, 0), torch.full((1, 1, 2, 2), 2.0))
    torch.testing.assert_close(V.deconvnet(net, x, 0), torch.tensor([[[[0.0, 2.0], [0.0, 0.0]]]]))
    torch.testing.assert_close(V.deconvnet_without_switches(net, x, 1), torch.zeros(1, 1, 2, 2))   # relu(-1) = 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_deconvnet_without_switches_keeps_dtype_and_device(x, dtype):
    net = SmallNet().to(dtype).eval()
    out = V.deconvnet_without_switches(net, x.to(dtype), layer="c2")
    assert out.dtype == dtype and out.device == x.device and out.shape == x.shape


def test_layer_depth_counts_the_weight_layers_run():
    lenet = models.LeNet5()
    assert [V.layer_depth(lenet, name) for name in ("c1", "act1", "s2", "c3", "c5", "f6", "output")] == [1, 1, 1, 2, 3, 4, 5]
    net = SmallNet()
    assert V.layer_depth(net, "a2", image_shape=(3, 16, 16)) == 2 and V.layer_depth(net, "fc", image_shape=(3, 16, 16)) == 3
    with pytest.raises(ValueError, match="layer"):
        V.layer_depth(lenet, "c9")


def test_unit_selectivity_is_the_z_score_of_the_top_hits():
    lenet = models.LeNet5().eval()
    images = torch.rand(10, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    sel = V.unit_selectivity(lenet, images, "c3", k=3, progress=False)
    acts = V.capture_activations(lenet, images, "c3")["c3"].flatten(2).amax(2).double()    # N x U
    expected = (acts.topk(3, dim=0).values.mean(0) - acts.mean(0)) / acts.std(0)
    torch.testing.assert_close(sel, expected.float(), rtol=1e-4, atol=1e-5)
    several = V.unit_selectivity(lenet, images, ["c1", "c3"], k=3, batch_size=4, progress=False)
    torch.testing.assert_close(several["c3"], sel)                        # batching does not matter
    assert sel.shape == (16,) and sel.dtype == images.dtype
    # a unit that responds the same to every image is not selective
    const = nn.Sequential(nn.Conv2d(1, 1, 3))
    with torch.no_grad():
        const[0].weight.zero_(), const[0].bias.fill_(1.0)
    assert float(V.unit_selectivity(const, images, "0", progress=False)[0]) == 0.0
