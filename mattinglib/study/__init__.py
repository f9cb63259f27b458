"""The study: what runs the experiments of the notebooks on top of the library.

=====================  ==================================================================
module                 what
=====================  ==================================================================
``notebooks``          which notebooks there are, their ``parameters`` cell, the summary mark
``provenance``         code version, cache keys, why a notebook reruns, commit
``execution``          :func:`run_study`: papermill, cache, atomic results, parallel notebooks
``readme``             ``results/README.md``
``__main__``           ``python -m mattinglib.study``
``profiles``           the ``smoke`` / ``cpu`` / ``paper`` scales of every experiment
``grid``               grids of training runs, run folders named by their config
``score_cache``        scores kept in the run folders, keyed by weights, set and scoring code
``evalsets``           the runs' folder, the evaluation sets, what a training label says
``findings``           statuses of claims computed from score tables
``verdicts``           a notebook's claims, each behind its reference's gate; the gates' table
``claims``             the one schema of ``claims.json``
``tables``             CSV + Markdown tables, mean ± std summaries
``plotting``           figure helpers (style, image grids, reproducible PNG / PDF)
``figures``            the study's own figures
``prior_study``        DDC as a per-image matting prior (notebook 02)
``statistics``         paired comparisons by seed and image, with intervals
``tuning``             the validation search of every arm (one tuning grid)
``regimes``            the fine-label arm at other regimes: how far the competence gate is
``prose``              readings whose numbers are checked against the tables
``gpu_check``          the short GPU version of the real-image track
=====================  ==================================================================

The library (``mattinglib`` outside this package) never imports from here.
"""
from __future__ import annotations

from .claims import collect_claims, read_claims, write_claims
from .execution import NotebookRun, run_study
from .notebooks import discover_notebooks, is_summary, parse_override, read_parameters
from .provenance import code_version, run_key

__all__ = ["NotebookRun", "run_study", "discover_notebooks", "is_summary", "read_parameters", "parse_override",
           "collect_claims", "read_claims", "write_claims", "code_version", "run_key"]
