"""lectures_lib: the tested helper library behind the course *Seeing and Fooling ConvNets*.

Images are float tensors ``B x C x H x W`` in [0, 1]; every model normalises inside, so attacks clamp to [0, 1].
The dependency runs one way: display -> lessons -> models -> data -> config.

Modules
-------
Foundation
    ``config`` (device, run mode, seeding, data folder), ``validation`` (argument checks naming the argument),
    ``plumbing`` (batches, eval mode, running a model, input gradients, forward hooks, the streaming pass over
    activations), ``data`` (MNIST, Fashion-MNIST, ImageNet samples), ``models`` (LeNet-5, ImageNet models, the
    trained MNIST models), ``cache`` (the checkpoint cache), ``train`` (fit, evaluate, predict).
Teaching
    ``check`` (exercise checks that say what is wrong), ``student`` (student copies of the notebooks),
    ``publish`` (slides and a static site, offline).
Display
    ``plotting`` (shared figures; ``plotting.<lesson>`` per lesson), ``widgets`` (ipywidgets).
Lessons (math only, one module per lesson)
    ``visualize`` (03), ``saliency`` (04), ``dissection`` (05), ``attacks`` (06), ``universal`` (07),
    ``blackbox`` (08), ``defenses`` (09).
"""
__version__ = "0.1.0"
