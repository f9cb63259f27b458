"""Procedural matting composites with exact ground truth, generated on the fly from a seed.

A composite has three foreground layers, back to front:

- a *veil* (optional): a semi-transparent ellipse with a soft edge, its opacity varying
  smoothly in [0.2, 0.8] (glass, tulle, smoke) and a tinted colour;
- a *body*: an opaque shape with hard, anti-aliased edges: a smooth star-shaped blob, a union
  of ellipses or a polygon with rounded corners. Its alpha is ``clip(0.5 - sdf, 0, 1)`` for an
  (approximate) signed distance ``sdf`` in pixels, i.e. a 1-pixel ramp across the boundary,
  which is the box-filtered coverage of a straight edge;
- *hair* (optional): tufts of thin curved strands growing out of the body's boundary, 0.35 to
  2 pixels wide and tapering, rendered with their exact box-filtered coverage across the strand
  (partial coverage, sub-pixel strands never reach alpha 1) and the colour of the body where
  they grow.

The body's colour and texture come from a crop of one photograph (with optional colour
jitter), the background from a crop of another. The layers are combined with the "over"
operator in premultiplied colour, alpha is quantised to 8 bits (k / 255, as in real data, so
``alpha == 0`` and ``alpha == 1`` are exact) and the image is ``I = alpha * F + (1 - alpha) * B``
exactly, with ``F`` the premultiplied colour divided by alpha.

Submodules, one job each:

- :mod:`~mattinglib.data.synthetic.crops`: :func:`crop_photo`, :func:`jitter_colours`
  (the photo crops);
- :mod:`~mattinglib.data.synthetic.shapes`: the body's shapes as signed distances;
- :mod:`~mattinglib.data.synthetic.layers`: the body, veil and hair layers;
- :mod:`~mattinglib.data.synthetic.compositing`: :func:`make_composite`, the layers stacked
  over the background;
- :mod:`~mattinglib.data.synthetic.dataset`: :class:`SyntheticMattingDataset`, seeded
  composites and their trimaps as a dataset.
"""
from mattinglib.data.synthetic.compositing import make_composite
from mattinglib.data.synthetic.crops import crop_photo, jitter_colours
from mattinglib.data.synthetic.dataset import SyntheticMattingDataset

__all__ = ["SyntheticMattingDataset", "crop_photo", "jitter_colours", "make_composite"]
