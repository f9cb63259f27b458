"""Which code and which packages made a result: digests of the package's sources, package versions.

Every cache of the project is keyed on these facts, computed here once: the study runner's
notebook cache (:mod:`mattinglib.study.provenance`: all of ``mattinglib/**/*.py``, and one digest
per file so that it can say which files changed), the benchmarks' stamps
(:mod:`mattinglib.bench.record`: the package less the study) and the study's score cache
(:mod:`mattinglib.study.score_cache`: only the modules that scoring imports, found statically by
:func:`imported_files`, so that editing the training loop does not make a score stale).

A digest is the hex SHA-256 over the files' paths relative to the package folder and their
bytes, in path order; the same files give the same digest on every machine.
"""
from __future__ import annotations

import ast
import hashlib
import os
from importlib import metadata
from pathlib import Path
from typing import Iterable

#: The package's own folder (``mattinglib/``).
PACKAGE_DIR = Path(__file__).resolve().parent
#: The package's import name: imports of it are followed by :func:`imported_files`.
PACKAGE_NAME = PACKAGE_DIR.name


def package_files(package_dir: str | os.PathLike = PACKAGE_DIR, exclude: tuple[str, ...] = ()) -> list[str]:
    """Paths (relative to ``package_dir``, with ``/``) of its ``*.py`` files, in digest order.

    ``exclude`` names top-level sub-packages to leave out (``("study",)``); ``__pycache__`` is
    always left out. The order is that of the files' :class:`~pathlib.Path` objects, which
    every digest of the project has used.
    """
    package_dir = Path(package_dir)
    files = []
    for path in sorted(package_dir.rglob("*.py")):
        relative = path.relative_to(package_dir)
        if "__pycache__" in relative.parts or relative.parts[0] in exclude:
            continue
        files.append(relative.as_posix())
    return files


def code_digest(package_dir: str | os.PathLike = PACKAGE_DIR, exclude: tuple[str, ...] = (),
                files: Iterable[str] | None = None) -> str:
    """Hex SHA-256 over the relative paths and bytes of ``files`` (default: :func:`package_files`).

    Parameters
    ----------
    package_dir : path
        The package folder the paths are relative to.
    exclude : tuple of str
        Top-level sub-packages left out of the default file list.
    files : iterable of str, optional
        Relative paths with ``/`` (e.g. from :func:`imported_files`); taken in the order given.
    """
    package_dir = Path(package_dir)
    digest = hashlib.sha256()
    for relative in package_files(package_dir, exclude) if files is None else files:
        digest.update(relative.encode() + b"\0")
        digest.update((package_dir / relative).read_bytes() + b"\0")
    return digest.hexdigest()


def file_digests(package_dir: str | os.PathLike = PACKAGE_DIR, exclude: tuple[str, ...] = ()) -> dict[str, str]:
    """Relative path -> hex SHA-256 of the bytes of each of :func:`package_files`.

    What a record keeps to say later which files changed (:func:`changed_files`); the
    combined :func:`code_digest` says only whether any did.
    """
    package_dir = Path(package_dir)
    return {relative: hashlib.sha256((package_dir / relative).read_bytes()).hexdigest()
            for relative in package_files(package_dir, exclude)}


def changed_files(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The paths whose digest differs between two :func:`file_digests`, added and removed ones
    included, sorted."""
    return sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))


def _module_file(module: str, package_dir: Path) -> str | None:
    """Relative path of the file that defines ``module`` (a dotted name inside the package)."""
    parts = module.split(".")[1:]
    for candidate in ("/".join(parts + ["__init__.py"]), "/".join(parts) + ".py" if parts else None):
        if candidate and (package_dir / candidate).is_file():
            return candidate
    return None


def _imports_of(module: str, relative: str, package_dir: Path) -> set[str]:
    """Dotted names of the package's modules that ``module``'s source imports, anywhere in it
    (inside functions too: such an import runs when the function does)."""
    tree = ast.parse((package_dir / relative).read_text(encoding="utf-8"), filename=relative)
    # The package a relative import starts from: the module itself for an __init__.py.
    package = module if relative.endswith("__init__.py") else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            found.add(base)
            # ``from pkg import name``: ``name`` may be a submodule.
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name == PACKAGE_NAME or name.startswith(PACKAGE_NAME + ".")}


def imported_files(modules: Iterable[str], package_dir: str | os.PathLike = PACKAGE_DIR) -> list[str]:
    """The package's files that importing ``modules`` can run: the static import closure.

    Follows every ``import`` and ``from ... import`` of the package (absolute and relative,
    at module level or inside functions) through the sources, and adds each module's parent
    packages (importing ``mattinglib.models.unet`` runs ``mattinglib/models/__init__.py``).
    Imports built at run time (``importlib.import_module(name)``) are not seen.

    Parameters
    ----------
    modules : iterable of str
        Dotted module names inside the package, e.g. ``"mattinglib.evaluate"``.

    Returns
    -------
    list of str
        Relative paths with ``/``, in :func:`package_files` order.

    Raises
    ------
    ValueError
        A name of ``modules`` has no file in the package.
    """
    package_dir = Path(package_dir)
    pending, seen, files = list(modules), set(), set()
    for name in pending:
        if _module_file(name, package_dir) is None:
            raise ValueError(f"{name}: no such module in {package_dir}")
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        relative = _module_file(module, package_dir)
        if relative is None:
            continue  # ``from pkg import name`` where name is not a module
        files.add(relative)
        parents = [".".join(module.split(".")[:end]) for end in range(1, module.count(".") + 1)]
        pending.extend(parents + sorted(_imports_of(module, relative, package_dir)))
    return [relative for relative in package_files(package_dir) if relative in files]


def package_versions(names: Iterable[str]) -> dict[str, str | None]:
    """Installed version of each distribution of ``names`` (None where it is not installed)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions
