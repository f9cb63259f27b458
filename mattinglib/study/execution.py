"""Executing the study's notebooks: isolated, cached, atomic, one failure not stopping the rest.

What :func:`run_study` does, for each notebook ``notebooks/<stem>.ipynb`` in name order
(summary notebooks last, :func:`mattinglib.study.notebooks.is_summary`):

1. **Parameters.** The notebook's cell tagged ``parameters`` holds literal assignments only.
   The runner injects ``PROFILE``, ``OUTPUT_DIR`` and any ``-p NAME VALUE`` overrides (VALUE is
   read as a JSON literal when it parses, else as a string). Every injected name must be
   assigned in that cell: an unknown name is an error naming the notebook and the name,
   raised before anything runs.
2. **Cache.** A run is keyed by the notebook file's hash, the injected parameters, the code
   version (hash of all ``mattinglib/**/*.py``), the profile, which data sets were found under
   its data root (``DATA_ROOT`` when it sets one, else ``$MATTINGLIB_DATA``; so results made
   without the real scenes are rerun once they appear) and, for a summary notebook, the
   claims and tables it reads (:mod:`mattinglib.study.provenance`). When
   ``results/<stem>/run.json`` holds the same key with status ``ok``, the notebook is skipped
   (``force`` reruns it); else one line says why it runs (``re-executed: code changed
   (mattinglib/train.py)``, ``parameters changed (STEPS)``, ..., from the earlier ``run.json``,
   which records a digest of each code file). Any library edit reruns a notebook, but its
   trainings and, unless the scoring code changed, its scores are reused from the runs folder.
3. **Execution, isolated.** The notebook runs in a kernel named ``mattinglib`` (an ipykernel
   spec for this interpreter, installed into ``sys.prefix`` if missing) with the repository
   root as working directory, writing into ``results/.<stem>.tmp/`` (its ``OUTPUT_DIR``).
   The executed notebook ``<stem>.ipynb``, an HTML rendering without code ``<stem>.html`` and
   ``run.json`` are written there; only on success does that folder replace
   ``results/<stem>/`` (old folder renamed away, new one renamed in, old one deleted). A
   failed run is moved to ``results/.<stem>.failed/`` for inspection and the previous results
   stay in place. One failure does not stop the other notebooks. While it runs, one line
   says it started, one line per code cell gives ``cell i/n, elapsed N s``, one line how it
   ended.
4. **Report.** ``results/README.md`` is rewritten (:mod:`mattinglib.study.readme`), and for the
   project's own ``results/`` the findings table of the project README too.

A ``claims.json`` that a notebook writes into its ``OUTPUT_DIR`` must pass
:func:`mattinglib.study.claims.read_claims`; a malformed file makes the notebook's run fail.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import datetime as _dt
import json
import math
import multiprocessing
import os
import platform
import shutil
import sys
import time
import traceback
from pathlib import Path

from mattinglib.atomic import atomic_write_text
from mattinglib.environment import default_thread_variables
from mattinglib.versions import file_digests, package_versions

from .claims import read_claims
from .notebooks import (RUNNER_PARAMETERS, check_parameters, discover_notebooks, is_summary, notebook_title,
                        read_parameters)
from .profiles import PROFILES
from .provenance import (RECORDED_PACKAGES, REPO_ROOT, code_version, datasets_found, display_path, git_state, is_cached,
                         read_run_json, rerun_reason, run_key, summary_inputs)
from .readme import update_project_readme, write_results_readme

#: Per-cell time limit (seconds) of a profile when ``timeout`` is not given: smoke runs must be
#: quick, so a hang fails fast; cpu and paper cells (training) may run for hours (None).
DEFAULT_CELL_TIMEOUT = {"smoke": 600}
#: The Jupyter kernel the notebooks run in (this interpreter).
KERNEL_NAME = "mattinglib"
#: Environment of that kernel: a fixed hash seed, so that set and dict-of-str orders repeat.
KERNEL_ENV = {"PYTHONHASHSEED": "0"}
#: The papermill engine the notebooks run with (:func:`_register_engine`): nbclient's, plus a
#: line per code cell.
ENGINE_NAME = "mattinglib-progress"
#: The project's own results folder: a run with ``-p`` overrides writes there only when asked.
PROJECT_RESULTS = REPO_ROOT / "results"


@dataclasses.dataclass
class NotebookRun:
    """What happened to one notebook in one study run.

    Attributes
    ----------
    name : str
        The notebook's file stem, e.g. ``"10_fine_vs_trimap"``.
    notebook : Path
        The source notebook.
    output_dir : Path
        ``results/<name>``: where its results are (or, after a failure, still are from before).
    status : {"ok", "cached", "failed"}
        ``cached``: skipped because ``run.json`` held the same key with status ok.
    wall_seconds : float
        Time spent now (0 for cached runs; see ``run.json`` for the time of the cached run).
    key : str
        The cache key (hex SHA-256).
    parameters : dict
        The injected parameters, with ``OUTPUT_DIR`` as its final (not temporary) location.
    error : str or None
        For failed runs, what went wrong (exception name and message, and the cell).
    failed_dir : Path or None
        For failed runs, the folder holding the partly executed notebook.
    """

    name: str
    notebook: Path
    output_dir: Path
    status: str
    wall_seconds: float
    key: str
    parameters: dict
    error: str | None = None
    failed_dir: Path | None = None


@dataclasses.dataclass
class _Task:
    """Everything a worker process needs to execute one notebook (picklable)."""

    name: str
    notebook: Path
    results_dir: Path
    parameters: dict          # as injected, OUTPUT_DIR pointing to the temporary folder
    recorded_parameters: dict  # as recorded, OUTPUT_DIR pointing to results/<name>
    key: str
    key_parts: dict
    code_files: dict          # relative path -> digest of each package file (to name changed ones later)
    reason: str               # why it runs (provenance.rerun_reason)
    profile: str
    timeout: int | None
    threads: int | None
    commit: dict
    title: str


def ensure_kernel() -> str:
    """Make sure the ``mattinglib`` kernelspec exists for this interpreter; return its name.

    It is installed into ``sys.prefix`` (the virtual environment), so it never points to
    another interpreter, and reinstalled when it points elsewhere.
    """
    spec_file = Path(sys.prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME / "kernel.json"
    if spec_file.is_file():
        try:
            spec = json.loads(spec_file.read_text())
            if spec.get("argv", [None])[0] == sys.executable and spec.get("env") == KERNEL_ENV:
                return KERNEL_NAME
        except (json.JSONDecodeError, OSError):
            pass  # a broken spec: reinstall below
    from ipykernel.kernelspec import install

    install(kernel_name=KERNEL_NAME, display_name="Python (mattinglib)", prefix=sys.prefix, env=KERNEL_ENV)
    return KERNEL_NAME


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _write_json(path: Path, data) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def _render_html(notebook_path: Path, html_path: Path) -> None:
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(notebook_path, as_version=4))
    atomic_write_text(html_path, body)


def _restore_interrupted_swap(final_dir: Path, old_dir: Path) -> None:
    """Undo a swap cut short by a crash: put back the old results if the new ones never arrived."""
    if old_dir.exists():
        if final_dir.exists():
            shutil.rmtree(old_dir)
        else:
            os.replace(old_dir, final_dir)


def _register_engine() -> str:
    """Register (again: idempotent, and needed in every worker process) the papermill engine
    that reports each code cell as it starts; return its name.

    It is papermill's nbclient engine with ``cell_start`` of the execution manager wrapped:
    ``on_cell(index, count)`` is called with the 1-based index of the code cell and the number
    of code cells (the injected parameters cell included). Non-code cells are not reported.
    """
    from papermill.engines import NBClientEngine, papermill_engines

    class ProgressEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, on_cell=None, **kwargs):
            if on_cell is not None:
                # Position of each code cell among the code cells, by index in the notebook
                # (papermill calls cell_start(cell, index) for every cell, in order).
                code_cells = {index: number for number, index in enumerate(
                    (i for i, cell in enumerate(nb_man.nb.cells) if cell.get("cell_type") == "code"), start=1)}
                cell_start = nb_man.cell_start

                def reporting_cell_start(cell, cell_index=None, **more):
                    if cell_index in code_cells:
                        on_cell(code_cells[cell_index], len(code_cells))
                    return cell_start(cell, cell_index, **more)

                nb_man.cell_start = reporting_cell_start
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    papermill_engines.register(ENGINE_NAME, ProgressEngine)
    return ENGINE_NAME


def _describe_error(error: BaseException) -> str:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(error, PapermillExecutionError):
        return f"{error.ename}: {error.evalue} (cell In [{error.exec_count}], index {error.cell_index})"
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


def _execute(task: _Task) -> NotebookRun:
    """Execute one notebook into its temporary folder and swap it into place (runs in a worker)."""
    import papermill

    final_dir = task.results_dir / task.name
    tmp_dir = task.results_dir / f".{task.name}.tmp"
    old_dir = task.results_dir / f".{task.name}.old"
    failed_dir = task.results_dir / f".{task.name}.failed"
    _restore_interrupted_swap(final_dir, old_dir)
    if tmp_dir.exists():
        shutil.rmtree(tmp_dir)  # left by a crashed run
    tmp_dir.mkdir(parents=True)

    executed = tmp_dir / f"{task.name}.ipynb"
    # papermill saves after every cell; it writes to a partial file that is renamed when it
    # stops, so the folder never holds a half-written <name>.ipynb.
    partial = tmp_dir / f".{task.name}.partial.ipynb"
    started, start_clock = _now(), time.perf_counter()
    error = None
    print(f"[study] {task.name}: started (profile {task.profile})", flush=True)

    def on_cell(index: int, count: int) -> None:
        print(f"[study] {task.name}: cell {index}/{count}, elapsed {time.perf_counter() - start_clock:.0f} s",
              flush=True)

    try:
        try:
            # Parallel notebooks share the cores: one kernel with many OpenMP threads beside
            # another runs several times slower than with few (README, "Threads"). The kernel
            # inherits the variables; this process gets its own back afterwards.
            threads = (contextlib.nullcontext() if task.threads is None else
                       default_thread_variables(task.threads, ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                               "NUMBA_NUM_THREADS")))
            # No tqdm bar: the cell lines above say the same and read well in a log.
            with threads:
                papermill.execute_notebook(
                    str(task.notebook), str(partial), parameters=task.parameters, kernel_name=KERNEL_NAME,
                    language="python", progress_bar=False, cwd=str(REPO_ROOT), execution_timeout=task.timeout,
                    request_save_on_cell_execute=True, engine_name=_register_engine(), on_cell=on_cell)
        finally:
            # A failed run's partly executed notebook is kept too: it shows the traceback.
            if partial.exists():
                os.replace(partial, executed)
        if (tmp_dir / "claims.json").exists():
            read_claims(tmp_dir / "claims.json")
    except Exception as caught:  # noqa: BLE001 -- one notebook's failure must not stop the others
        error = _describe_error(caught)
    if executed.exists():
        try:
            _render_html(executed, tmp_dir / f"{task.name}.html")
        except Exception as caught:  # noqa: BLE001
            error = error or f"HTML rendering failed: {_describe_error(caught)}"
    wall = time.perf_counter() - start_clock

    record = {
        "name": task.name,
        "title": task.title,
        "notebook": display_path(task.notebook),
        "status": "failed" if error else "ok",
        "error": error,
        "profile": task.profile,
        "parameters": task.recorded_parameters,
        "key": task.key,
        "key_parts": task.key_parts,
        "code_files": task.code_files,
        "reason": task.reason,
        "commit": task.commit,
        "packages": package_versions(RECORDED_PACKAGES),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "kernel": KERNEL_NAME,
        "cell_timeout_s": task.timeout,
        "started": started,
        "finished": _now(),
        "wall_seconds": round(wall, 3),
    }
    _write_json(tmp_dir / "run.json", record)

    if error:
        if failed_dir.exists():
            shutil.rmtree(failed_dir)
        os.replace(tmp_dir, failed_dir)
        print(f"[study] {task.name}: FAILED after {wall:.1f} s: {error.splitlines()[0]}", flush=True)
        return NotebookRun(task.name, task.notebook, final_dir, "failed", wall, task.key,
                           task.recorded_parameters, error=error, failed_dir=failed_dir)

    # Swap: old results out of the way, new ones in, then delete the old ones. A crash between
    # the two renames leaves .<name>.old, which _restore_interrupted_swap puts back next time.
    if final_dir.exists():
        os.replace(final_dir, old_dir)
    os.replace(tmp_dir, final_dir)
    if old_dir.exists():
        shutil.rmtree(old_dir)
    if failed_dir.exists():
        shutil.rmtree(failed_dir)  # an older failure is no longer the latest word
    print(f"[study] {task.name}: ok in {wall:.1f} s", flush=True)
    return NotebookRun(task.name, task.notebook, final_dir, "ok", wall, task.key, task.recorded_parameters)


def _execute_guarded(task: _Task) -> NotebookRun:
    """:func:`_execute`, turning an unexpected error (a bug, a full disk) into a failed run."""
    try:
        return _execute(task)
    except Exception as caught:  # noqa: BLE001
        error = f"runner error: {_describe_error(caught)}\n{traceback.format_exc()}"
        print(f"[study] {task.name}: FAILED (runner error): {error.splitlines()[0]}", flush=True)
        return NotebookRun(task.name, task.notebook, task.results_dir / task.name, "failed", 0.0, task.key,
                           task.recorded_parameters, error=error)


def run_study(profile: str, only: list[str] | None = None, jobs: int = 1, force: bool = False,
              results_dir: str | os.PathLike = REPO_ROOT / "results",
              notebooks_dir: str | os.PathLike = REPO_ROOT / "notebooks",
              overrides: dict | None = None, timeout: float | None = None,
              write_readme: bool = True, in_place: bool = False) -> list[NotebookRun]:
    """Execute the study notebooks and write ``results/README.md``.

    Parameters
    ----------
    profile : {"smoke", "cpu", "paper"}
        Injected as ``PROFILE``.
    only : list of str, optional
        Notebook stems (``"10_fine_vs_trimap"``) or file names to run; default all.
    jobs : int, default 1
        Notebooks executed at once, each in its own process and kernel. With more than one,
        each kernel gets ``OMP_NUM_THREADS`` (and MKL / numba) = cores // jobs unless set.
        Summary notebooks run after all the others, one at a time.
    force : bool, default False
        Run notebooks whose cached result is up to date too.
    results_dir, notebooks_dir : str or PathLike
        Default ``results/`` and ``notebooks/`` of the repository.
    overrides : dict, optional
        Extra parameters injected into every selected notebook; each must be declared in its
        parameters cell.
    timeout : float, optional
        Per-cell time limit in seconds; default :data:`DEFAULT_CELL_TIMEOUT` of the profile.
    write_readme : bool, default True
        Rewrite ``results/README.md`` at the end.
    in_place : bool, default False
        Allow ``overrides`` with the project's own ``results/`` as ``results_dir``: without
        it that is an error, so that a run with changed parameters never replaces the
        committed results (the command line sends such runs to ``results-custom/``).

    Returns
    -------
    list of NotebookRun
        One per selected notebook, in name order (summaries last).

    Raises
    ------
    ValueError
        Unknown profile or notebook name, a malformed parameters cell, a parameter a
        notebook does not declare (checked for every notebook before any runs), or
        overrides into the project's ``results/`` without ``in_place``.
    FileNotFoundError
        The notebooks folder does not exist.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    results_dir, notebooks_dir = Path(results_dir).resolve(), Path(notebooks_dir).resolve()
    every_notebook = discover_notebooks(notebooks_dir)
    notebooks = _select(every_notebook, only, notebooks_dir)
    overrides = dict(overrides or {})
    for name in overrides:
        if name in RUNNER_PARAMETERS:
            raise ValueError(f"parameter {name} is set by the runner and cannot be overridden")
    if overrides and not in_place and results_dir == PROJECT_RESULTS.resolve():
        raise ValueError(f"parameter overrides ({', '.join(overrides)}) would replace the committed results in "
                         f"{results_dir}; write them to another folder, or pass in_place=True (--in-place)")
    timeout = DEFAULT_CELL_TIMEOUT.get(profile) if timeout is None else timeout
    if timeout is not None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive seconds, got {timeout}")
        timeout = int(math.ceil(timeout))  # nbclient takes whole seconds

    # Check every notebook's parameters before running any: a typo in -p must not surface
    # hours into a study.
    problems = []
    for path in notebooks:
        try:
            check_parameters(path, {"PROFILE": profile, "OUTPUT_DIR": "", **overrides})
        except ValueError as error:
            problems.append(str(error))
    if problems:
        raise ValueError("\n".join(problems))

    settings = dict(profile=profile, overrides=overrides, results_dir=results_dir, timeout=timeout, force=force,
                    code=code_version(), code_files=file_digests(), commit=git_state(REPO_ROOT, exclude=results_dir),
                    threads=max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None)
    results_dir.mkdir(parents=True, exist_ok=True)
    runs: dict[str, NotebookRun] = {}
    others = [path for path in notebooks if not is_summary(path)]
    _run_all([_plan(path, runs, **settings) for path in others], runs, jobs, results_dir)
    # Summaries read what the others wrote: their key (which includes those files) is made only
    # now, after every other notebook of this call has finished.
    sources = [path for path in every_notebook if not is_summary(path)]
    for path in notebooks:
        if is_summary(path):
            task = _plan(path, runs, inputs=summary_inputs(results_dir, sources), **settings)
            _run_all([task], runs, 1, results_dir)

    ordered = [runs[path.stem] for path in notebooks]
    if write_readme:
        write_results_readme(results_dir, notebooks_dir)
        if results_dir == PROJECT_RESULTS.resolve() and notebooks_dir == (REPO_ROOT / "notebooks").resolve():
            # The project's own results: the README's findings table follows them.
            update_project_readme(REPO_ROOT / "README.md", results_dir, notebooks_dir)
    return ordered


def _select(notebooks: list[Path], only: list[str] | None, notebooks_dir: Path) -> list[Path]:
    """The notebooks named by ``only`` (stems or file names), in discovery order; all without it."""
    if only:
        by_name = {path.stem: path for path in notebooks} | {path.name: path for path in notebooks}
        unknown = [name for name in only if name not in by_name]
        if unknown:
            raise ValueError(f"--only: no notebook {', '.join(unknown)} in {notebooks_dir} "
                             f"(there are: {', '.join(p.stem for p in notebooks) or 'none'})")
        wanted = {by_name[name] for name in only}
        notebooks = [path for path in notebooks if path in wanted]
    if not notebooks:
        raise ValueError(f"{notebooks_dir}: no notebooks to run")
    return notebooks


def _plan(path: Path, runs: dict, *, profile: str, overrides: dict, results_dir: Path, timeout: int | None,
          force: bool, code: str, code_files: dict, commit: dict, threads: int | None,
          inputs: dict | None = None) -> _Task | None:
    """The task of one notebook, or None (and a cached entry in ``runs``) when it is up to date."""
    keyed = {"PROFILE": profile, **overrides}
    # The data root the notebook will look in: its DATA_ROOT (overridden or default), else
    # $MATTINGLIB_DATA.
    data_root = overrides.get("DATA_ROOT", read_parameters(path).get("DATA_ROOT"))
    data = datasets_found(data_root if isinstance(data_root, str) else None)
    key, key_parts = run_key(path, keyed, profile, code, inputs=inputs, data=data)
    final_dir = results_dir / path.stem
    recorded = {**keyed, "OUTPUT_DIR": display_path(final_dir)}
    if not force and is_cached(final_dir, path.stem, key):
        print(f"[study] {path.stem}: up to date, skipped (use --force to rerun)", flush=True)
        runs[path.stem] = NotebookRun(path.stem, path, final_dir, "cached", 0.0, key, recorded)
        return None
    earlier = read_run_json(final_dir)
    reason = rerun_reason(earlier, key_parts, code_files, forced=force)
    print(f"[study] {path.stem}: {'re-executed' if earlier else 'executed'}: {reason}", flush=True)
    injected = {**keyed, "OUTPUT_DIR": display_path(results_dir / f".{path.stem}.tmp")}
    return _Task(name=path.stem, notebook=path, results_dir=results_dir, parameters=injected,
                 recorded_parameters=recorded, key=key, key_parts=key_parts, code_files=code_files,
                 reason=reason, profile=profile,
                 timeout=timeout, threads=threads, commit=commit,
                 title=notebook_title(path))


def _run_all(tasks: list[_Task | None], runs: dict, jobs: int, results_dir: Path) -> None:
    """Execute the (not None) tasks, ``jobs`` at a time, recording each outcome in ``runs``."""
    tasks = [task for task in tasks if task is not None]
    if tasks:
        ensure_kernel()
    if jobs == 1 or len(tasks) <= 1:
        for task in tasks:
            runs[task.name] = _execute_guarded(task)
        return
    # "spawn": a fresh interpreter per worker; forking a process that may hold threads
    # (torch, numba, the kernel client) is unsafe.
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=context) as pool:
        futures = {pool.submit(_execute_guarded, task): task for task in tasks}
        for future in concurrent.futures.as_completed(futures):
            task = futures[future]
            try:
                runs[task.name] = future.result()
            except Exception as caught:  # noqa: BLE001 -- a worker that died (killed, out of memory)
                runs[task.name] = NotebookRun(task.name, task.notebook, results_dir / task.name, "failed",
                                              0.0, task.key, task.recorded_parameters,
                                              error=f"worker process failed: {_describe_error(caught)}")
