"""The Figure that lstmlab.plot returns: a matplotlib Figure that shows itself in Jupyter.

Imported only by :mod:`lstmlab.plot`, inside its functions, so that
``import lstmlab`` never imports matplotlib.

Jupyter displays the value of a cell's last line through IPython's display
formatters. A bare :class:`matplotlib.figure.Figure` made without pyplot has
a PNG formatter only after ``%matplotlib inline`` (or a pyplot import) has
registered one, so in a fresh kernel it shows as ``<Figure size 640x400 with
1 Axes>``. This subclass carries the rich representation itself
(``_repr_png_``), the protocol every IPython front end asks for. When the
inline backend *is* active, IPython finds its printer for ``Figure`` first
(printers registered for a type win over ``_repr_*_`` methods, and a subclass
inherits them), so the image is still drawn once, never twice.

Nothing else changes: it is a Figure (``isinstance`` holds), ``savefig``
and every Axes method work, and it pickles like one.
"""

from __future__ import annotations

import io

from matplotlib.figure import Figure

__all__ = ["InlineFigure"]


class InlineFigure(Figure):
    """A :class:`matplotlib.figure.Figure` that Jupyter shows as a PNG image.

    Attributes
    ----------
    repr_dpi : float
        Resolution of the PNG shown in a notebook (100: a 6.4x4 inch figure
        is about 640x400 pixels and 20-60 KB, which keeps executed notebooks
        small enough for git).

    Examples
    --------
    >>> fig = InlineFigure(figsize=(2, 1))
    >>> _ = fig.add_subplot().plot([0, 1])
    >>> fig._repr_png_()[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """

    repr_dpi = 100

    def _repr_png_(self):
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=self.repr_dpi, bbox_inches="tight")
        return buffer.getvalue()
