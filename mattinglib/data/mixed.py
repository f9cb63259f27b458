"""A training set with a fixed share of its items taken from a second dataset.

The real-image track has 16 training foregrounds: every composite shows one of them, so a
network trained on those alone meets few kinds of edge (few translucent regions, few low
contrast ones). :class:`MixedDataset` mixes in items of another dataset, e.g. synthetic
composites with exact alpha (:class:`~mattinglib.data.synthetic.SyntheticMattingDataset`), at a
share chosen on the validation split (config key ``synthetic_share``).

Which items come from the second dataset is a pure function of the index: item ``i`` is from
``other`` when ``floor((i + 1) * share) > floor(i * share)``, so any ``n`` consecutive items hold
``floor(n * share)`` or one more of them, spread evenly. The training stream shuffles the items
per epoch, so every batch holds about that share.
"""
from __future__ import annotations

import math
from collections.abc import Sequence


class MixedDataset:
    """Items of ``main``, a share ``share`` of them taken from ``other`` instead.

    Parameters
    ----------
    main : dataset of sample dicts
        Its length is the mixed dataset's.
    other : dataset of sample dicts
        At least as long as ``main``; item ``i`` of the mix, when it is ``other``'s, is
        ``other[i]`` (so its items are as deterministic as ``other``'s own).
    share : float, in (0, 1)
        The fraction of the items that are ``other``'s.
    drop : sequence of str
        Keys removed from ``other``'s items so that both kinds collate into one batch (the
        synthetic composites' ``fg`` and ``bg`` layers, which the real composites lack).

    Both datasets are told the epoch (:meth:`set_epoch`), so their augmentations follow it.
    """

    def __init__(self, main, other, share: float, drop: Sequence[str] = ("fg", "bg")):
        if not 0.0 < share < 1.0:  # also rejects NaN
            raise ValueError(f"share must lie in (0, 1), got {share}")
        if len(other) < len(main):
            raise ValueError(f"the second dataset has {len(other)} items, fewer than the main one's {len(main)}")
        self.main, self.other, self.share, self.drop = main, other, float(share), tuple(drop)

    def __len__(self) -> int:
        return len(self.main)

    def is_other(self, index: int) -> bool:
        """Whether item ``index`` comes from the second dataset."""
        return math.floor((index + 1) * self.share) > math.floor(index * self.share)

    def __getitem__(self, index: int) -> dict:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        index %= len(self)
        if not self.is_other(index):
            return self.main[index]
        return {key: value for key, value in self.other[index].items() if key not in self.drop}

    def set_epoch(self, epoch: int) -> None:
        for dataset in (self.main, self.other):
            if hasattr(dataset, "set_epoch"):
                dataset.set_epoch(epoch)


__all__ = ["MixedDataset"]
