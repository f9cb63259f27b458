"""Run the study: execute every notebook of ``notebooks/`` with papermill and collect the results.

Command line::

    python -m mattinglib.study --profile smoke|cpu|paper [--only NAME ...] [--jobs N] [--force]
        [--results DIR] [--notebooks DIR] [--timeout SECONDS] [-p NAME VALUE ...]

What one run does, for each notebook ``notebooks/<stem>.ipynb`` in name order:

1. **Parameters.** The notebook's cell tagged ``parameters`` holds literal assignments only.
   The runner injects ``PROFILE``, ``OUTPUT_DIR`` and any ``-p NAME VALUE`` overrides (VALUE is
   read as a JSON literal when it parses, else as a string). Every injected name must be
   assigned in that cell: an unknown name is an error naming the notebook and the name,
   raised before anything runs.
2. **Cache.** A run is keyed by the notebook file's hash, the injected parameters, the code
   version (hash of all ``mattinglib/**/*.py``) and the profile. When
   ``results/<stem>/run.json`` holds the same key with status ``ok``, the notebook is skipped
   (``--force`` reruns it).
3. **Execution, isolated.** The notebook runs in a kernel named ``mattinglib`` (an ipykernel
   spec for this interpreter, installed into ``sys.prefix`` if missing) with the repository
   root as working directory, writing into ``results/.<stem>.tmp/`` (its ``OUTPUT_DIR``).
   The executed notebook ``<stem>.ipynb``, an HTML rendering without code ``<stem>.html`` and
   ``run.json`` are written there; only on success does that folder replace
   ``results/<stem>/`` (old folder renamed away, new one renamed in, old one deleted). A
   failed run is moved to ``results/.<stem>.failed/`` for inspection and the previous results
   stay in place. One failure does not stop the other notebooks.
4. **Report.** ``results/README.md`` is rewritten: per notebook its title, status, time,
   commit, headline findings (``claims.json``), Markdown tables and figures. The runner prints
   a summary table and exits non-zero naming the notebooks that failed.

``claims.json``, which a notebook may write into its ``OUTPUT_DIR``, is a list of objects
``{"claim": str, "finding": str, "status": one of CLAIM_STATUSES}``; a malformed file makes
the notebook's run fail.
"""
from __future__ import annotations

import argparse
import ast
import concurrent.futures
import dataclasses
import datetime as _dt
import hashlib
import json
import math
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
from importlib import metadata
from pathlib import Path
from urllib.parse import quote

import mattinglib
from mattinglib.atomic import atomic_write_text
from mattinglib.claims import STATUSES as CLAIM_STATUSES  # allowed values of a claim's "status"

#: The three profiles a notebook understands.
PROFILES = ("smoke", "cpu", "paper")
#: Per-cell time limit (seconds) used when ``timeout`` is not given: smoke runs must be quick,
#: so a hang fails fast; cpu and paper cells (training) may run for hours.
DEFAULT_CELL_TIMEOUT = {"smoke": 600, "cpu": None, "paper": None}
#: The Jupyter kernel the notebooks run in (this interpreter).
KERNEL_NAME = "mattinglib"
#: Environment of that kernel: a fixed hash seed, so that set and dict-of-str orders repeat.
KERNEL_ENV = {"PYTHONHASHSEED": "0"}
#: Packages whose versions every run.json records.
RECORDED_PACKAGES = ("torch", "numpy", "scipy", "scikit-image", "pymatting", "pandas", "matplotlib",
                     "papermill", "mattinglib")
#: Parameters the runner sets itself; ``-p`` may not override them.
RUNNER_PARAMETERS = ("PROFILE", "OUTPUT_DIR")

#: The repository checkout this package lives in (editable install): notebooks run from here.
REPO_ROOT = Path(mattinglib.__file__).resolve().parents[1]
PACKAGE_DIR = Path(mattinglib.__file__).resolve().parent


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
    profile: str
    timeout: int | None
    progress_bar: bool
    threads: int | None
    commit: dict
    title: str


# --------------------------------------------------------------------------- notebooks

def discover_notebooks(notebooks_dir: str | os.PathLike) -> list[Path]:
    """List the study notebooks of a folder, sorted by file name, summaries last.

    A notebook whose name contains ``overview`` reads the other notebooks' results, so it runs
    after them (``00_overview`` is first to read, last to run).

    Parameters
    ----------
    notebooks_dir : str or PathLike
        Folder holding ``*.ipynb``; sub-folders (``.ipynb_checkpoints``) and hidden files are
        ignored.

    Returns
    -------
    list of Path

    Raises
    ------
    FileNotFoundError
        The folder does not exist.
    """
    notebooks_dir = Path(notebooks_dir)
    if not notebooks_dir.is_dir():
        raise FileNotFoundError(f"{notebooks_dir}: notebooks folder does not exist")
    return sorted((path for path in notebooks_dir.glob("*.ipynb")
                   if path.is_file() and not path.name.startswith(".")),
                  key=lambda p: (_is_overview(p), p.name))


def _load_notebook(path: Path) -> dict:
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not a valid notebook (JSON error: {error})") from error
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise ValueError(f"{path}: not a valid notebook (no 'cells' list)")
    return notebook


def _cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def notebook_title(path: str | os.PathLike) -> str:
    """The first Markdown heading of a notebook (without the ``#``), else its file stem."""
    path = Path(path)
    for cell in _load_notebook(path)["cells"]:
        if cell.get("cell_type") != "markdown":
            continue
        for line in _cell_source(cell).splitlines():
            if line.lstrip().startswith("#"):
                return line.strip().lstrip("#").strip()
    return path.stem


def read_parameters(path: str | os.PathLike) -> dict:
    """Read the defaults of a notebook's ``parameters`` cell.

    Parameters
    ----------
    path : str or PathLike
        A notebook with exactly one code cell tagged ``parameters``, holding assignments of
        literals (``NAME = 3``, ``NAME: float = 1e-3``, ``A, B = 1, 2``, lists, dicts...) and
        comments.

    Returns
    -------
    dict
        Parameter name -> default value, in the order of the cell.

    Raises
    ------
    ValueError
        No or several parameters cells, a syntax error, a statement that is not an
        assignment, or a value that is not a literal; the message names the notebook.
    """
    path = Path(path)
    cells = [cell for cell in _load_notebook(path)["cells"]
             if "parameters" in (cell.get("metadata", {}).get("tags") or [])]
    if not cells:
        raise ValueError(f"{path}: no cell is tagged 'parameters' (tag the cell of literal settings)")
    if len(cells) > 1:
        raise ValueError(f"{path}: {len(cells)} cells are tagged 'parameters'; tag exactly one")
    if cells[0].get("cell_type") != "code":
        raise ValueError(f"{path}: the cell tagged 'parameters' is not a code cell")
    source = _cell_source(cells[0])
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise ValueError(f"{path}: syntax error in the parameters cell, line {error.lineno}: {error.msg}") from error

    values = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            targets, value_node = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value_node = [statement.target], statement.value
        else:
            raise ValueError(f"{path}: parameters cell line {statement.lineno}: only assignments of literals "
                             f"are allowed, found {type(statement).__name__}")
        try:
            value = ast.literal_eval(value_node)
        except ValueError as error:
            raise ValueError(f"{path}: parameters cell line {statement.lineno}: the value "
                             f"{ast.get_source_segment(source, value_node)!r} is not a literal; derive "
                             "values from parameters in the next cell") from error
        for target in targets:
            if isinstance(target, ast.Name):
                values[target.id] = value
            elif isinstance(target, (ast.Tuple, ast.List)) and all(isinstance(t, ast.Name) for t in target.elts):
                if not isinstance(value, (tuple, list)) or len(value) != len(target.elts):
                    raise ValueError(f"{path}: parameters cell line {statement.lineno}: cannot unpack the value")
                values.update({t.id: v for t, v in zip(target.elts, value)})
            else:
                raise ValueError(f"{path}: parameters cell line {statement.lineno}: assign to plain names only")
    return values


def check_parameters(path: str | os.PathLike, injected: dict) -> None:
    """Raise ``ValueError`` naming the notebook and the parameters it does not declare.

    Parameters
    ----------
    path : str or PathLike
        The notebook.
    injected : dict
        The parameters the runner would inject (names -> values).
    """
    declared = read_parameters(path)
    unknown = [name for name in injected if name not in declared]
    if unknown:
        raise ValueError(f"{path}: unknown parameter(s) {', '.join(unknown)}: the notebook's parameters cell "
                         f"declares only {', '.join(declared) or 'nothing'}")


def parse_override(name: str, text: str) -> tuple[str, object]:
    """One ``-p NAME VALUE``: VALUE as a JSON literal (``3``, ``1e-3``, ``true``, ``[1, 2]``,
    ``"text"``) when it parses, else the string itself."""
    if not name.isidentifier():
        raise ValueError(f"-p {name} {text}: {name!r} is not a valid parameter name")
    if name in RUNNER_PARAMETERS:
        raise ValueError(f"-p {name}: {name} is set by the runner (use --profile / --results)")
    try:
        return name, json.loads(text)
    except json.JSONDecodeError:
        return name, text


# --------------------------------------------------------------------------- provenance

def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def code_version(package_dir: str | os.PathLike = PACKAGE_DIR) -> str:
    """Hex SHA-256 over the relative paths and bytes of every ``*.py`` file of the package."""
    package_dir = Path(package_dir)
    digest = hashlib.sha256()
    for path in sorted(package_dir.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(package_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def run_key(notebook: Path, parameters: dict, profile: str, code: str) -> tuple[str, dict]:
    """The cache key of a run and the parts it hashes.

    ``parameters`` must not contain ``OUTPUT_DIR`` (where a run writes is not what it computes).
    """
    parts = {"notebook_sha256": _sha256_file(notebook), "parameters": parameters,
             "code_version": code, "profile": profile}
    text = json.dumps(parts, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest(), parts


def git_state(repo: Path = REPO_ROOT, exclude: Path | None = None) -> dict:
    """``{"sha": HEAD or None, "dirty": bool or None}`` of the repository.

    ``exclude`` (the results folder) is left out of the dirty check: writing results must not
    make the next run's tree look modified.
    """
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    sha = git("rev-parse", "HEAD")
    if sha is None:
        return {"sha": None, "dirty": None}
    pathspec = ["--", "."]
    if exclude is not None:
        try:
            pathspec.append(f":(exclude){Path(exclude).resolve().relative_to(repo.resolve()).as_posix()}")
        except ValueError:
            pass  # results outside the repository cannot dirty it
    status = git("status", "--porcelain", *pathspec)
    return {"sha": sha, "dirty": None if status is None else bool(status)}


def package_versions() -> dict:
    """Installed versions of :data:`RECORDED_PACKAGES` (None where not installed)."""
    versions = {}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


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


def collect_claims(results_dir: str | os.PathLike) -> list[dict]:
    """Every notebook's claims under ``results_dir``, in notebook order, each with its ``notebook``.

    Reads ``results_dir/<notebook>/claims.json`` of the notebooks that have one (the overview
    notebook's headline table); a missing folder gives an empty list.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        return []
    rows = []
    for path in sorted(results_dir.glob("*/claims.json")):
        rows += [{"notebook": path.parent.name} | claim for claim in read_claims(path)]
    return rows


def read_claims(path: str | os.PathLike) -> list[dict]:
    """Read and check a notebook's ``claims.json``.

    Returns
    -------
    list of dict
        Each ``{"claim": str, "finding": str, "status": str}``, status in :data:`CLAIM_STATUSES`.

    Raises
    ------
    FileNotFoundError, ValueError
        Missing file, invalid JSON, or an entry of the wrong form (named by its index).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such claims file")
    try:
        claims = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: invalid JSON ({error})") from error
    if not isinstance(claims, list):
        raise ValueError(f"{path}: must hold a list of claims, found {type(claims).__name__}")
    for index, claim in enumerate(claims):
        if not isinstance(claim, dict) or set(claim) != {"claim", "finding", "status"}:
            raise ValueError(f"{path}: claim {index} must be an object with exactly the keys "
                             f"claim, finding, status; got {claim!r}")
        if not all(isinstance(claim[key], str) and claim[key].strip() for key in ("claim", "finding")):
            raise ValueError(f"{path}: claim {index}: 'claim' and 'finding' must be non-empty strings")
        if claim["status"] not in CLAIM_STATUSES:
            raise ValueError(f"{path}: claim {index}: status {claim['status']!r} is not one of {CLAIM_STATUSES}")
    return claims


# --------------------------------------------------------------------------- execution

def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _display_path(path: Path) -> str:
    """A path relative to the repository root when inside it (what notebooks see as cwd)."""
    path = Path(path).resolve()
    try:
        return path.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return path.as_posix()


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


def _describe_error(error: BaseException) -> str:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(error, PapermillExecutionError):
        return f"{error.ename}: {error.evalue} (cell In [{error.exec_count}], index {error.cell_index})"
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


def _execute(task: _Task) -> NotebookRun:
    """Execute one notebook into its temporary folder and swap it into place (runs in a worker)."""
    import papermill

    if task.threads is not None:
        # Parallel notebooks share the cores: one kernel with many OpenMP threads beside
        # another runs several times slower than with few (see MEASURED.md). The kernel
        # inherits this process's environment; a value the user set is kept.
        for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
            os.environ.setdefault(variable, str(task.threads))

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
    print(f"[study] {task.name}: running (profile {task.profile})", flush=True)
    try:
        try:
            papermill.execute_notebook(
                str(task.notebook), str(partial), parameters=task.parameters, kernel_name=KERNEL_NAME,
                language="python", progress_bar=task.progress_bar, cwd=str(REPO_ROOT), execution_timeout=task.timeout,
                request_save_on_cell_execute=True)
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
        "notebook": _display_path(task.notebook),
        "status": "failed" if error else "ok",
        "error": error,
        "profile": task.profile,
        "parameters": task.recorded_parameters,
        "key": task.key,
        "key_parts": task.key_parts,
        "commit": task.commit,
        "packages": package_versions(),
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


def _is_overview(notebook: Path) -> bool:
    """Whether a notebook reads the others' results (see :func:`discover_notebooks`)."""
    return "overview" in Path(notebook).stem


def _is_cached(final_dir: Path, name: str, key: str) -> bool:
    run_json = final_dir / "run.json"
    if not run_json.is_file() or not (final_dir / f"{name}.ipynb").is_file():
        return False
    try:
        record = json.loads(run_json.read_text())
    except (json.JSONDecodeError, OSError):
        return False
    return record.get("key") == key and record.get("status") == "ok"


def run_study(profile: str, only: list[str] | None = None, jobs: int = 1, force: bool = False,
              results_dir: str | os.PathLike = REPO_ROOT / "results",
              notebooks_dir: str | os.PathLike = REPO_ROOT / "notebooks",
              overrides: dict | None = None, timeout: float | None = None,
              write_readme: bool = True) -> list[NotebookRun]:
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

    Returns
    -------
    list of NotebookRun
        One per selected notebook, in name order.

    Raises
    ------
    ValueError
        Unknown profile or notebook name, a malformed parameters cell, or a parameter a
        notebook does not declare (checked for every notebook before any runs).
    FileNotFoundError
        The notebooks folder does not exist.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    results_dir, notebooks_dir = Path(results_dir).resolve(), Path(notebooks_dir).resolve()
    notebooks = discover_notebooks(notebooks_dir)
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
    overrides = dict(overrides or {})
    for name in overrides:
        if name in RUNNER_PARAMETERS:
            raise ValueError(f"parameter {name} is set by the runner and cannot be overridden")
    timeout = DEFAULT_CELL_TIMEOUT[profile] if timeout is None else timeout
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

    code = code_version()
    commit = git_state(REPO_ROOT, exclude=results_dir)
    threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None
    progress_bar = jobs == 1 and sys.stderr.isatty() and not os.environ.get("CI")
    results_dir.mkdir(parents=True, exist_ok=True)

    runs: dict[str, NotebookRun] = {}
    tasks = []
    for path in notebooks:
        keyed = {"PROFILE": profile, **overrides}
        key, key_parts = run_key(path, keyed, profile, code)
        final_dir = results_dir / path.stem
        recorded = {**keyed, "OUTPUT_DIR": _display_path(final_dir)}
        # An overview reads the others' results: when any of them runs now, it must run after them.
        stale_inputs = _is_overview(path) and any(not _is_overview(task.notebook) for task in tasks)
        if not force and not stale_inputs and _is_cached(final_dir, path.stem, key):
            print(f"[study] {path.stem}: up to date, skipped (use --force to rerun)", flush=True)
            runs[path.stem] = NotebookRun(path.stem, path, final_dir, "cached", 0.0, key, recorded)
            continue
        injected = {**keyed, "OUTPUT_DIR": _display_path(results_dir / f".{path.stem}.tmp")}
        tasks.append(_Task(name=path.stem, notebook=path, results_dir=results_dir, parameters=injected,
                           recorded_parameters=recorded, key=key, key_parts=key_parts, profile=profile,
                           timeout=timeout, progress_bar=progress_bar, threads=threads, commit=commit,
                           title=notebook_title(path)))

    if tasks:
        ensure_kernel()
    overviews = [task for task in tasks if _is_overview(task.notebook)]
    tasks = [task for task in tasks if not _is_overview(task.notebook)]
    if jobs == 1 or len(tasks) <= 1:
        for task in tasks:
            runs[task.name] = _execute_guarded(task)
    else:
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

    for task in overviews:  # after every other notebook, also when those ran in parallel
        runs[task.name] = _execute_guarded(task)

    ordered = [runs[path.stem] for path in notebooks]
    if write_readme:
        write_results_readme(results_dir, notebooks_dir)
    return ordered


# --------------------------------------------------------------------------- reporting

def _link(target: str) -> str:
    return quote(target, safe="/._-")


def _read_run_json(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "run.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _commit_text(commit: dict | None) -> str:
    if not commit or not commit.get("sha"):
        return "unknown"
    return commit["sha"][:10] + (" (uncommitted changes)" if commit.get("dirty") else "")


def _latest_run_failed(record: dict | None, failure: dict | None) -> bool:
    """Whether the failed attempt (``.<name>.failed/run.json``) is newer than the results."""
    return bool(failure) and (not record or failure.get("finished", "") > record.get("finished", ""))


def _escape_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def write_results_readme(results_dir: str | os.PathLike, notebooks_dir: str | os.PathLike) -> Path:
    """Write ``results_dir/README.md`` (atomically) from the results of every notebook.

    For each notebook of ``notebooks_dir`` in name order: its title, status, profile, wall
    time and commit (from ``run.json``), a note if its latest run failed, its headline
    findings (``claims.json``), every Markdown table it wrote and links to its figures (PNG).
    The header says which profile(s) and commit(s) produced the results and how to rerun.
    Its date is the end of the latest run, so rewriting unchanged results gives the same file.

    Returns
    -------
    Path
        The README.
    """
    results_dir, notebooks_dir = Path(results_dir), Path(notebooks_dir)
    notebooks = discover_notebooks(notebooks_dir)
    records = {path.stem: _read_run_json(results_dir / path.stem) for path in notebooks}
    failures = {path.stem: _read_run_json(results_dir / f".{path.stem}.failed") for path in notebooks}
    present = [record for record in records.values() if record]

    profiles = sorted({record.get("profile", "?") for record in present})
    commits = sorted({_commit_text(record.get("commit")) for record in present})
    finished = max((record.get("finished", "") for record in present), default="")
    lines = ["# Study results", ""]
    if present:
        lines += [f"Produced with profile **{', '.join(profiles)}** at commit {', '.join(commits)}; "
                  f"latest run finished {finished or 'unknown'}.", ""]
    else:
        lines += ["No notebook has produced results yet.", ""]
    lines += ["Rerun everything with `make study` (that is, `python -m mattinglib.study --profile cpu`); "
              "one notebook with `python -m mattinglib.study --profile cpu --only NAME --force`. "
              "Profiles: `smoke` (seconds, for tests), `cpu` (the default, 2 CPU cores), `paper` (GPU). "
              "Unchanged notebooks are skipped: a run is keyed by the notebook, its parameters, the "
              "`mattinglib` sources and the profile (see each folder's `run.json`).", ""]

    # Overview: one row per notebook.
    lines += ["| notebook | status | profile | wall time | findings |", "| :--- | :--- | :--- | ---: | :--- |"]
    all_claims = {}
    for path in notebooks:
        record, failure = records[path.stem], failures[path.stem]
        claims_file = results_dir / path.stem / "claims.json"
        try:
            all_claims[path.stem] = read_claims(claims_file) if claims_file.is_file() else []
        except ValueError as error:
            all_claims[path.stem] = error
        claims = all_claims[path.stem]
        counts = ("invalid claims.json" if isinstance(claims, ValueError) else
                  ", ".join(f"{sum(c['status'] == s for c in claims)} {s}" for s in CLAIM_STATUSES
                            if any(c["status"] == s for c in claims)))
        status = record.get("status", "?") if record else "not run"
        if _latest_run_failed(record, failure):
            status = "**failed** (older results shown)" if record else "**failed**"
        wall = f"{record['wall_seconds']:.0f} s" if record and "wall_seconds" in record else ""
        lines.append(f"| [{_escape_cell(notebook_title(path))}](#{path.stem}) | {status} | "
                     f"{record.get('profile', '') if record else ''} | {wall} | {counts} |")
    lines.append("")

    for path in notebooks:
        stem, record, failure = path.stem, records[path.stem], failures[path.stem]
        folder = results_dir / stem
        lines += [f"<a id=\"{stem}\"></a>", "", f"## {notebook_title(path)}", ""]
        if record:
            lines.append(f"`{_display_path(path)}` · status **{record.get('status')}** · profile "
                         f"`{record.get('profile')}` · {record.get('wall_seconds', 0):.1f} s · commit "
                         f"{_commit_text(record.get('commit'))} · finished {record.get('finished', '?')}")
            lines += ["", f"[Executed notebook]({_link(f'{stem}/{stem}.ipynb')}) · "
                          f"[HTML, without code]({_link(f'{stem}/{stem}.html')}) · "
                          f"[run.json]({_link(f'{stem}/run.json')})", ""]
        else:
            lines += [f"`{_display_path(path)}` has not been run yet.", ""]
        if _latest_run_failed(record, failure):
            first_line = (failure.get("error") or "?").splitlines()[0]
            lines += [f"**The latest run failed** ({failure.get('finished', '?')}, profile "
                      f"`{failure.get('profile')}`): `{_escape_cell(first_line)}`. See "
                      f"[the partly executed notebook]({_link(f'.{stem}.failed/{stem}.html')}). "
                      + ("The results below are from the previous successful run." if record else ""), ""]
        if not record:
            continue

        claims = all_claims[stem]
        if isinstance(claims, ValueError):
            lines += [f"Findings: `claims.json` is invalid ({_escape_cell(str(claims))}).", ""]
        elif claims:
            lines += ["### Findings", "", "| claim | status | finding |", "| :--- | :--- | :--- |"]
            lines += [f"| {_escape_cell(c['claim'])} | {c['status']} | {_escape_cell(c['finding'])} |"
                      for c in claims]
            lines.append("")

        tables = sorted(p for p in folder.glob("*.md") if p.name != "README.md")
        if tables:
            lines += ["### Tables", ""]
            for table in tables:
                lines += [f"#### {table.stem}", "", table.read_text(encoding="utf-8").strip(), "",
                          f"([CSV]({_link(f'{stem}/{table.stem}.csv')}))" if table.with_suffix(".csv").exists()
                          else "", ""]
        figures = sorted(folder.rglob("*.png"))
        if figures:
            lines += ["### Figures", ""]
            for figure in figures:
                relative = figure.relative_to(results_dir).as_posix()
                lines += [f"![{figure.stem}]({_link(relative)})", ""]

    text = "\n".join(line for i, line in enumerate(lines) if not (line == "" and i and lines[i - 1] == ""))
    readme = results_dir / "README.md"
    atomic_write_text(readme, text.rstrip() + "\n")
    return readme


def format_summary(runs: list[NotebookRun]) -> str:
    """A plain-text table: notebook, status, wall time, first line of the error."""
    rows = [("notebook", "status", "wall s", "note")]
    for run in runs:
        note = ""
        if run.error:
            note = run.error.splitlines()[0]
            if run.failed_dir:
                note += f" (see {run.failed_dir})"
        rows.append((run.name, run.status, f"{run.wall_seconds:.1f}", note))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}  {d}".rstrip() for a, b, c, d in rows)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mattinglib.study",
                                     description="Execute the study notebooks and collect results/README.md.")
    parser.add_argument("--profile", default="cpu", choices=PROFILES,
                        help="smoke: seconds (tests); cpu: the default, what results/ shows; paper: GPU")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these notebooks (file stems)")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks run in parallel (default 1)")
    parser.add_argument("--force", action="store_true", help="rerun notebooks whose cached results are current")
    parser.add_argument("--results", default=str(REPO_ROOT / "results"), help="results folder (default results/)")
    parser.add_argument("--notebooks", default=str(REPO_ROOT / "notebooks"),
                        help="notebooks folder (default notebooks/)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="per-cell time limit in seconds (default: 600 for smoke, none otherwise)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="override a parameter in every selected notebook; VALUE is JSON when it parses")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0 ok, 1 a notebook failed, 2 bad usage)."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        overrides = dict(parse_override(name, value) for name, value in args.parameter)
        runs = run_study(args.profile, only=args.only, jobs=args.jobs, force=args.force,
                         results_dir=args.results, notebooks_dir=args.notebooks, overrides=overrides,
                         timeout=args.timeout)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print()
    print(format_summary(runs))
    print(f"\nresults: {Path(args.results) / 'README.md'}")
    failed = [run.name for run in runs if run.status == "failed"]
    if failed:
        print(f"\nfailed notebooks: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
