"""lectures_lib: the tested helper library behind the course *Seeing and Fooling ConvNets*.

Modules: ``config``, ``data``, ``models``, ``cache``, ``train``, ``plotting``, ``widgets``
(foundation) and one module per lesson (``visualize``, ``saliency``, ``attacks``, ...).
Images are float tensors in [0, 1]; every model normalises inside.
"""
__version__ = "0.1.0"
