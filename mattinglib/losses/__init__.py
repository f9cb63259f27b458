"""Training losses: the known loss, DDC / DC (trimap-only training) and fine-label losses.

- :mod:`.neighbors` -- DDC neighbour selection (:func:`select_neighbors`, :class:`Neighbors`).
- :mod:`.ddc` -- the DDC and DC losses, fused forward/backward.
- :mod:`.scaled_ddc` -- scaled DDC (our extension): DDC with the colour distances divided by a
  local foreground / background contrast estimated from the trimap.
- :mod:`.known` -- the known loss on the trimap's known region.
- :mod:`.fine` -- losses that need true alpha (L1, Laplacian pyramid, Sobel gradient) and the
  naive trimap-L1 baseline.
- :mod:`.criterion` -- :class:`MattingCriterion`, a weighted sum of the above by name.
- :mod:`.reference` -- the naive formulation of the paper's release (benchmark baseline, oracle).
"""
from .criterion import EXTENSION_LOSS_NAMES, LOSS_NAMES, MattingCriterion
from .ddc import dc_loss, dc_loss_from_neighbors, ddc_loss, ddc_loss_from_neighbors
from .fine import gradient_loss, l1_loss, laplacian_loss, trimap_l1_loss
from .known import known_loss
from .neighbors import Neighbors, select_neighbors
from .scaled_ddc import local_contrast, scale_distances, scaled_ddc_loss, scaled_ddc_loss_from_neighbors
from .reference import reference_dc_loss, reference_ddc_loss, reference_select

__all__ = [
    "LOSS_NAMES", "EXTENSION_LOSS_NAMES", "MattingCriterion", "Neighbors", "select_neighbors",
    "ddc_loss", "dc_loss", "ddc_loss_from_neighbors", "dc_loss_from_neighbors",
    "known_loss", "l1_loss", "laplacian_loss", "gradient_loss", "trimap_l1_loss",
    "local_contrast", "scale_distances", "scaled_ddc_loss", "scaled_ddc_loss_from_neighbors",
    "reference_select", "reference_ddc_loss", "reference_dc_loss",
]
