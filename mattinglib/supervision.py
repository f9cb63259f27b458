"""The supervision modes: what a network is trained from, in one registry.

A mode names the weighted losses of :class:`mattinglib.losses.MattingCriterion` it sums and
what it reads of a training sample. Everything else (the config's choices, the training
loop, the data pipeline, the notebooks) asks :data:`SUPERVISIONS`, so a mode is defined once.

====================  ===========================================  ===========  ================
name                  losses                                       reads alpha  propagation term
====================  ===========================================  ===========  ================
``fine``              L1 + Laplacian-pyramid L1 to the true alpha  yes          none
``known``             the known loss on the label's known pixels   no           none
``known+ddc``         known + lambda x DDC (the paper)             no           ``ddc``
``known+dc``          known + lambda x DC (undirected ablation)    no           ``dc``
``known+scaled-ddc``  known + lambda x scaled DDC (ours)           no           ``scaled_ddc``
``trimap-l1``         L1 to the 0 / 0.5 / 1 label everywhere       no           none
====================  ===========================================  ===========  ================

lambda is the config's ``ddc_weight``; the Laplacian term of ``fine`` is weighted by the config's
``laplacian_weight`` (1 in the recipe; L1's weight is 1). The propagation term is the one whose weight may
follow a schedule (``ddc_schedule``) and whose neighbours are selected in the data pipeline.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Supervision:
    """One supervision mode.

    Attributes
    ----------
    name : str
    description : str
        One line, for tables and ``--help``.
    fixed_weights : dict of str to float
        Loss name -> weight of the terms that do not depend on the config.
    propagation : {"ddc", "dc", "scaled_ddc"} or None
        The term weighted by ``ddc_weight`` (lambda), if any.
    reads_alpha : bool
        Whether training needs the true alpha (fine labels) rather than the coarse label only.
    shape_term : str or None
        The term weighted by ``laplacian_weight``, if any.
    """

    name: str
    description: str
    fixed_weights: dict
    propagation: str | None = None
    reads_alpha: bool = False
    shape_term: str | None = None

    @property
    def needs_neighbors(self) -> bool:
        """Whether the DDC / DC neighbours must be selected for the training crops."""
        return self.propagation is not None

    def loss_weights(self, ddc_weight: float, laplacian_weight: float = 1.0) -> dict[str, float]:
        """Loss name -> weight for :class:`~mattinglib.losses.MattingCriterion` (a zero weight drops its term)."""
        weights = dict(self.fixed_weights)
        if self.shape_term is not None:
            weights[self.shape_term] = float(laplacian_weight)
        if self.propagation is not None:
            weights[self.propagation] = float(ddc_weight)
        return weights


SUPERVISIONS: dict[str, Supervision] = {mode.name: mode for mode in (
    Supervision("fine", "L1 + Laplacian L1 to the true alpha (fine labels)", {"l1": 1.0},
                reads_alpha=True, shape_term="laplacian"),
    Supervision("known", "known loss only", {"known": 1.0}),
    Supervision("known+ddc", "known loss + lambda x DDC (the paper)", {"known": 1.0}, propagation="ddc"),
    Supervision("known+dc", "known loss + lambda x DC (undirected ablation)", {"known": 1.0}, propagation="dc"),
    Supervision("known+scaled-ddc", "known loss + lambda x scaled DDC (contrast-normalised; ours)", {"known": 1.0},
                propagation="scaled_ddc"),
    Supervision("trimap-l1", "L1 to the 0 / 0.5 / 1 label (naive baseline)", {"trimap_l1": 1.0}),
)}


def get_supervision(name: str) -> Supervision:
    """The mode called ``name``; ``ValueError`` listing the modes otherwise."""
    try:
        return SUPERVISIONS[name]
    except KeyError:
        raise ValueError(f"supervision must be one of {tuple(SUPERVISIONS)}, got {name!r}") from None
