"""Shared fixtures.

The golden values of the public reference implementations are part of the repository
(``tests/golden``, see its README.md), so every reference test runs on a plain clone.

The real scenes live in ``../shared`` beside the repository on our machines (override with
``MATTINGLIB_SHARED``). Where it is absent, the tests that need it skip with the reason;
with ``MATTINGLIB_REQUIRE_SHARED=1`` (set by ``.ci/run``) its absence is an error instead,
so CI can never pass by skipping them.

Parallel runs. ``make test`` runs the suite in two pytest-xdist workers, each test file on one
worker (``--dist loadfile``, pyproject.toml: a file's tests share its module fixtures, and
test_study.py's change one results folder in turn). The two notebook smoke runs, the longest
files by far, are given out first, one to each worker (:func:`pytest_collection_modifyitems`);
the other files fill in around them. (pytest-xdist 3.8.0's ``--dist loadgroup`` does not group
under pytest 9.2: it sets a node-id field that pytest no longer reads.)

Threads. Each worker gets its share of the cores (one on 2 cores) as the thread count of torch,
OpenMP, MKL, OpenBLAS and numba, set in its environment before any of them is loaded, so that the
notebook kernels and the training processes a test starts inherit it. Every test process also
waits passively for its OpenMP threads (``OMP_WAIT_POLICY=PASSIVE`` unless the caller set one):
a thread that spins while the thread it waits for shares a core with another process makes a
2-thread step many times slower (300 forwards of a small convolution net with 2 threads beside
a busy process on 2 cores: 35 s spinning, 1.3 s passive). Thread counts that a test or a run
sets itself (a config's ``threads``) are kept; how threads wait changes no number.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MATTINGLIB_SHARED", REPO.parent / "shared"))
#: Golden values of the public reference implementations, kept in the repository.
GOLDEN = REPO / "tests" / "golden"
#: The test files given out first in a parallel run (the notebooks' smoke runs), in this order.
FIRST_FILES = ("test_notebooks.py", "test_notebooks_real_track.py")
#: Variables that set the thread counts of the numerical libraries (mattinglib.environment.THREAD_ENVS).
THREAD_ENVS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")


def worker_threads() -> int | None:
    """Threads of this pytest-xdist worker: the cores it may use shared out among the workers
    (at least 1); None outside a worker."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if not workers:
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // int(workers))


# At import, before torch, numpy or numba is loaded (OpenMP reads these once, when it loads).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
if worker_threads() is not None:
    for _name in THREAD_ENVS:
        os.environ[_name] = str(worker_threads())


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


def pytest_configure(config):
    """In a worker, torch's thread count too; in the controller of an xdist run, the notebooks'
    kernel spec, installed once before the workers start (two workers installing it at once
    on a fresh environment could meet half-written files)."""
    if worker_threads() is not None:
        import torch

        torch.set_num_threads(worker_threads())
    elif getattr(config.option, "numprocesses", None):
        from mattinglib.study.execution import ensure_kernel

        ensure_kernel()


def pytest_collection_modifyitems(items):
    """In a worker, :data:`FIRST_FILES` first (the same order in every worker, as xdist requires)."""
    if worker_threads() is not None:
        items.sort(key=lambda item: item.path.name not in FIRST_FILES)


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
def smoke_study(tmp_path_factory):
    """``run(names)``: the study notebooks ``names`` run by the study runner on the smoke profile,
    into results and training-runs folders of their own; (results folder, name -> NotebookRun).
    Each tuple of names runs once per session (per worker), when a test first asks for it."""
    # Imported here, not at the top: torch must load after the thread settings above.
    from mattinglib.study import run_study

    made = {}

    def run(names: tuple[str, ...]):
        if names not in made:
            results = tmp_path_factory.mktemp("results")
            # Training runs go to a fresh folder (the kernels inherit the variable): a smoke test
            # must train, not find the runs of an earlier test session.
            previous = os.environ.get("MATTINGLIB_RUNS")
            os.environ["MATTINGLIB_RUNS"] = str(tmp_path_factory.mktemp("runs"))
            try:
                runs = run_study("smoke", only=list(names), results_dir=results, notebooks_dir=REPO / "notebooks",
                                 timeout=600)
            finally:
                if previous is None:
                    del os.environ["MATTINGLIB_RUNS"]
                else:
                    os.environ["MATTINGLIB_RUNS"] = previous
            made[names] = results, {run.name: run for run in runs}
        return made[names]

    return run


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
