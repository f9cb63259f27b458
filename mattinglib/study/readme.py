"""``results/README.md``: every notebook's status, claims, tables and figures on one page."""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from mattinglib.atomic import atomic_write_text

from .claims import STATUSES as CLAIM_STATUSES
from .claims import read_claims
from .notebooks import discover_notebooks, notebook_title
from .provenance import display_path, read_run_json


def _link(target: str) -> str:
    return quote(target, safe="/._-")



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
    records = {path.stem: read_run_json(results_dir / path.stem) for path in notebooks}
    failures = {path.stem: read_run_json(results_dir / f".{path.stem}.failed") for path in notebooks}
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
            lines.append(f"`{display_path(path)}` · status **{record.get('status')}** · profile "
                         f"`{record.get('profile')}` · {record.get('wall_seconds', 0):.1f} s · commit "
                         f"{_commit_text(record.get('commit'))} · finished {record.get('finished', '?')}")
            lines += ["", f"[Executed notebook]({_link(f'{stem}/{stem}.ipynb')}) · "
                          f"[HTML, without code]({_link(f'{stem}/{stem}.html')}) · "
                          f"[run.json]({_link(f'{stem}/run.json')})", ""]
        else:
            lines += [f"`{display_path(path)}` has not been run yet.", ""]
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


#: The markers between which the project README holds the generated findings.
FINDINGS_START = "<!-- findings: generated from results/*/claims.json by the study runner; do not edit -->"
FINDINGS_END = "<!-- end of generated findings -->"


def findings_markdown(results_dir: str | os.PathLike, notebooks_dir: str | os.PathLike) -> str:
    """Every claim of every notebook as one Markdown table: status, effect and interval, seeds x images."""
    lines = ["| notebook | claim | status | effect [95 % CI] | seeds x images | gate |",
             "| :--- | :--- | :--- | :--- | :--- | :--- |"]
    for path in discover_notebooks(notebooks_dir):
        claims_file = Path(results_dir) / path.stem / "claims.json"
        if not claims_file.is_file():
            continue
        try:
            claims = read_claims(claims_file)
        except ValueError as error:
            lines.append(f"| `{path.stem}` | invalid claims.json: {_escape_cell(str(error))} | | | | |")
            continue
        for claim in claims:
            effect = ("" if claim["effect"] is None else
                      f"{claim['effect']:+.1%}" + ("" if claim["ci_low"] is None else
                                                   f" [{claim['ci_low']:+.1%}, {claim['ci_high']:+.1%}]"))
            gate = {True: "passed", False: "**failed**", None: "none"}[claim["gate"]["passed"]]
            lines.append(f"| `{path.stem}` | {_escape_cell(claim['claim'])} | {claim['status']} | {effect} | "
                         f"{claim['n_seeds']} x {claim['n_images']} | {gate} |")
    return "\n".join(lines)


def update_project_readme(readme: str | os.PathLike, results_dir: str | os.PathLike,
                          notebooks_dir: str | os.PathLike) -> bool:
    """Rewrite the findings table between :data:`FINDINGS_START` and :data:`FINDINGS_END` of ``readme``.

    Returns whether the file changed (it is left alone when it has no markers or the table is
    the same, so a rerun with nothing changed leaves the tree clean).
    """
    readme = Path(readme)
    if not readme.is_file():
        return False
    text = readme.read_text(encoding="utf-8")
    if FINDINGS_START not in text or FINDINGS_END not in text:
        return False
    head, rest = text.split(FINDINGS_START, 1)
    _, tail = rest.split(FINDINGS_END, 1)
    new = f"{head}{FINDINGS_START}\n{findings_markdown(results_dir, notebooks_dir)}\n{FINDINGS_END}{tail}"
    if new == text:
        return False
    atomic_write_text(readme, new)
    return True
