"""Shared fixtures.

The golden values of the public reference implementations are part of the repository
(``tests/golden``, see its README.md), so every reference test runs on a plain clone.
The real scenes live in ``../shared`` beside the repository on our machines (override with
``MATTINGLIB_SHARED``). Where it is absent, the tests that need it skip with the reason;
with ``MATTINGLIB_REQUIRE_SHARED=1`` (set by ``.ci/run``) its absence is an error instead,
so CI can never pass by skipping them.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MATTINGLIB_SHARED", REPO.parent / "shared"))
#: Golden values of the public reference implementations, kept in the repository.
GOLDEN = REPO / "tests" / "golden"


def shared_path(*parts: str) -> Path:
    """Return ``SHARED/parts`` or skip (fail when MATTINGLIB_REQUIRE_SHARED=1) if missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        reason = (f"{path} does not exist: the real data are read from ../shared "
                  "beside the repository (set MATTINGLIB_SHARED to point elsewhere)")
        if os.environ.get("MATTINGLIB_REQUIRE_SHARED") == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session", autouse=True)
def _own_item_store(tmp_path_factory):
    """Trainings in the tests keep their synthetic items in a store of their own, not the user's."""
    saved = os.environ.get("MATTINGLIB_ITEM_STORE")
    os.environ["MATTINGLIB_ITEM_STORE"] = str(tmp_path_factory.mktemp("item-store"))
    yield
    if saved is None:
        os.environ.pop("MATTINGLIB_ITEM_STORE", None)
    else:
        os.environ["MATTINGLIB_ITEM_STORE"] = saved


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    """``tests/golden``: in the repository, so the golden tests never skip."""
    if not (GOLDEN / "README.md").is_file():
        pytest.fail(f"{GOLDEN} is missing: the golden values are part of the repository", pytrace=False)
    return GOLDEN


@pytest.fixture(scope="session")
def alphamatting_root() -> Path:
    return shared_path("data", "alphamatting-lowres")


@pytest.fixture(scope="session")
def backgrounds_root() -> Path:
    return shared_path("data", "backgrounds")
