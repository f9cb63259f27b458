"""The study's notebooks as the runner sees them: which there are, their parameters, their title.

A study notebook is a ``*.ipynb`` of ``notebooks/`` with exactly one code cell tagged
``parameters`` holding literal assignments (papermill injects overrides after it). A notebook
whose metadata carries ``{"mattinglib": {"summary": true}}`` reads the other notebooks'
results (the overview): it runs after them and is rerun whenever what it reads changed
(:func:`is_summary`).
"""
from __future__ import annotations

import ast
import json
import os
from pathlib import Path

#: Parameters the runner sets itself; ``-p`` may not override them.
RUNNER_PARAMETERS = ("PROFILE", "OUTPUT_DIR")
#: Notebook metadata key of the runner's own settings.
METADATA_KEY = "mattinglib"


def discover_notebooks(notebooks_dir: str | os.PathLike) -> list[Path]:
    """List the study notebooks of a folder, sorted by file name, summaries last.

    A summary notebook (:func:`is_summary`) reads the other notebooks' results, so it runs
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
                  key=lambda p: (is_summary(p), p.name))


def is_summary(path: str | os.PathLike) -> bool:
    """Whether a notebook is marked as reading the other notebooks' results.

    The mark is its metadata ``{"mattinglib": {"summary": true}}``, not its name.
    """
    settings = _load_notebook(Path(path)).get("metadata", {}).get(METADATA_KEY, {})
    return bool(isinstance(settings, dict) and settings.get("summary"))


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


def needed_data(path: str | os.PathLike) -> list[str]:
    """The data sets (folders under the data root) without which a notebook has nothing to show.

    Its metadata ``{"mattinglib": {"needs": ["alphamatting-lowres"]}}``; such a notebook says
    what is missing and writes no table or figure when they are absent.
    """
    settings = _load_notebook(Path(path)).get("metadata", {}).get(METADATA_KEY, {})
    needs = settings.get("needs", []) if isinstance(settings, dict) else []
    return [needs] if isinstance(needs, str) else list(needs)


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


#: Longest folder name :func:`overrides_folder_name` makes before shortening with a digest.
MAX_FOLDER_NAME = 120


def overrides_folder_name(overrides: dict) -> str:
    """A folder name for the results of a run with ``-p`` overrides, e.g. ``SEEDS=0,1``.

    Each override reads ``NAME=VALUE`` (VALUE as given for text, else compact JSON), in name
    order, joined by ``__``; characters other than letters, digits and ``. , + - =`` become
    ``_`` (brackets, quotes, spaces, slashes), so the name is one safe path component. A name
    longer than :data:`MAX_FOLDER_NAME` is cut and ends with a digest of the overrides.
    """
    import hashlib
    import re

    if not overrides:
        raise ValueError("no overrides: a run without -p writes to results/")
    parts = []
    for name in sorted(overrides):
        value = overrides[name]
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), sort_keys=True)
        parts.append(f"{name}={re.sub(r'[^A-Za-z0-9.,+=-]+', '_', text).strip('_') or '_'}")
    folder = "__".join(parts)
    if len(folder) > MAX_FOLDER_NAME:
        digest = hashlib.sha256(json.dumps(overrides, sort_keys=True, default=repr).encode()).hexdigest()[:12]
        folder = f"{folder[:MAX_FOLDER_NAME - 13]}-{digest}"
    return folder
