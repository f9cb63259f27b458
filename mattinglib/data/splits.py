"""Train / validation / test splits of a pool of named items: photographs, scenes, files.

Every split of the library comes from :func:`split_pool`, so that its convention is written
once: the test items are drawn first, with the split's seed; the validation items are then
drawn from what is left, with :func:`validation_seed` of it (the seed plus one); the rest is
the training split. Each list keeps the pool's order, and no item is in two lists. The
split depends only on the names, their order, the fractions and the seed, never on a
training seed, so every run of a study is scored on the same items.

Two draws pick the held-out items (:data:`DRAWS`): ``"choice"`` (numpy's
``Generator.choice`` without replacement; scene names and files) and ``"permutation"``
(the first indices of ``Generator.permutation``; photo pools,
:data:`mattinglib.data.photos.PHOTO_DRAW`). For the same seed they pick different items;
each pool keeps the draw it has always had, so that no split moves.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: The three splits, in the order :func:`split_pool` fills them.
SPLITS = ("train", "validation", "test")
#: The ways of drawing held-out items (see the module docstring).
DRAWS = ("choice", "permutation")


def validation_seed(seed: int) -> int:
    """The seed of the validation draw of a split whose test draw uses ``seed``.

    Another seed than the test draw's, so the validation items are not the next ones the
    test draw would have picked; fixed (``seed + 1``), so they never move.
    """
    return seed + 1


def held_out_count(total: int, fraction: float) -> int:
    """How many of ``total`` items a ``fraction`` holds out: ``round(fraction * total)``, at least
    one and at most ``total - 1`` (one is always left); 0 when ``fraction`` is 0."""
    if not fraction:
        return 0
    return min(max(int(round(fraction * total)), 1), total - 1)


def split_off(names: Sequence[str], held_out: float | Sequence[str], seed: int = 0, draw: str = "choice",
              what: str = "held-out fraction") -> tuple[list[str], list[str]]:
    """Split names in two: ``(kept, held out)``.

    Parameters
    ----------
    names : sequence of str
        The pool (distinct names), in its order.
    held_out : float in [0, 1) or sequence of str
        A fraction: :func:`held_out_count` names drawn with ``seed`` (0: none). Or the held-out
        names themselves (at least one, leaving at least one).
    seed : int
        Seed of the draw (unused with explicit names).
    draw : one of :data:`DRAWS`
        How the fraction's names are drawn.
    what : str
        What the fraction is called in error messages.

    Returns
    -------
    kept, held_out : list of str
        Both in the order of ``names``.
    """
    names = list(names)
    if len(set(names)) != len(names):
        raise ValueError("names must be distinct to split a pool")
    if draw not in DRAWS:
        raise ValueError(f"draw must be one of {DRAWS}; got {draw!r}")
    if isinstance(held_out, (float, int)) and not isinstance(held_out, bool):
        if not 0.0 <= held_out < 1.0:  # also rejects NaN
            raise ValueError(f"{what} must lie in [0, 1); got {held_out}")
        if held_out and len(names) < 2:
            raise ValueError(f"{what}={held_out} needs a pool of at least two items, to keep one and hold one out; "
                             f"got {len(names)}")
        count = held_out_count(len(names), held_out)
        rng = np.random.default_rng(seed)
        if count == 0:
            chosen = set()
        elif draw == "choice":
            chosen = set(rng.choice(len(names), size=count, replace=False).tolist())
        else:
            chosen = set(rng.permutation(len(names))[:count].tolist())
        held = {names[i] for i in chosen}
    else:
        held = set(held_out)
        unknown = sorted(held - set(names))
        if unknown:
            raise ValueError(f"held-out names {unknown} are not among the pool's names")
        if not held or held == set(names):
            raise ValueError("the held-out list must hold at least one name and leave at least one")
    return [n for n in names if n not in held], [n for n in names if n in held]


def split_pool(names: Sequence[str], test: float | Sequence[str], validation: float = 0.0, seed: int = 0,
               draw: str = "choice") -> dict[str, list[str]]:
    """The train, validation and test names of a pool (see the module docstring).

    Parameters
    ----------
    names : sequence of str
        The pool (distinct names), in its order.
    test : float in [0, 1) or sequence of str
        The test split: a fraction of the pool drawn with ``seed`` (0: no test split), or its names.
    validation : float in [0, 1)
        Share of what the test split leaves held out for validation, drawn with
        :func:`validation_seed` ``(seed)`` (0: no validation split).
    seed : int
        Seed of the test draw.
    draw : one of :data:`DRAWS`
        How held-out names are drawn (the pool's own way: :data:`DRAWS`).

    Returns
    -------
    dict
        ``{"train": [...], "validation": [...], "test": [...]}`` (:data:`SPLITS`), each in the
        pool's order, no name in two lists.
    """
    rest, test_names = split_off(names, test, seed, draw, what="test_fraction")
    train, validation_names = split_off(rest, validation, validation_seed(seed), draw, what="validation_fraction")
    return {"train": train, "validation": validation_names, "test": test_names}
