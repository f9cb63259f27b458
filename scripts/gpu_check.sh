#!/usr/bin/env bash
# The short GPU check of the real-image track (python -m mattinglib.study.gpu_check; its docstring
# says what it trains and scores): both tracks (trimap-input, image-only) x two arms (known+ddc at
# the profile's lambda, fine), one seed, 400 steps each at the gpu profile (512 px crops, width-64
# U-Net, batch 16), scored on the held-out alphamatting.com scenes (Trimap1, unknown region and
# whole image) next to closed-form matting and trimap-as-alpha.
#
# How long: sized for about 7 minutes on one H200 with 16 cores (from CPU measurements of the data
# pipeline, not yet from a run there); it prints the projected total after each run. Results are
# rewritten after every run into ${OUT:-gpu_check_out}/gpu_check.json and gpu_check.csv.
#
# What it needs:
#   - python3 with torch (CUDA), numpy, pandas, scipy, scikit-image, pillow, matplotlib, tqdm,
#     numba and pymatting. mattinglib itself is not installed there: the repo root goes on
#     PYTHONPATH. pymatting (pure Python) may be missing: put its wheel in .whl/ (ignored, carried)
#     and it is installed into /tmp/site without the network.
#   - the scenes: ../shared does not travel to the GPU machine, so copy alphamatting-lowres/ into an
#     ignored folder of the repo (e.g. gpu_data/alphamatting-lowres/, 21 MB), carry it, and run
#         MATTINGLIB_DATA=gpu_data scripts/gpu_check.sh
#     Nothing is downloaded.
# Arguments go to the module (e.g. --steps 200, --workers 15); exit status is the module's
# (2: no CUDA, 3: no scenes).
#
# No claim is made from this check until it has run on a GPU and its JSON is read.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
OUT_DIR=${OUT:-gpu_check_out}
export PYTHONUNBUFFERED=1

if [ -d .whl ] && compgen -G ".whl/*.whl" >/dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

# One line naming every missing module, before anything slow starts.
"$PYTHON" - <<'EOF'
import importlib
import sys

missing = []
for name in ("torch", "numpy", "pandas", "scipy", "skimage", "PIL", "matplotlib", "tqdm", "numba", "pymatting"):
    try:
        importlib.import_module(name)
    except Exception as error:  # an ImportError, or a package that breaks on import
        missing.append(f"{name} ({type(error).__name__})")
if missing:
    sys.exit(f"gpu_check.sh: missing: {', '.join(missing)}; carry wheels in .whl/ (see this script's header)")
import torch
if not torch.cuda.is_available():
    # Not fatal here: the module refuses (exit 2) unless --device cpu or --profile smoke was given.
    print(f"gpu_check.sh: torch {torch.__version__} sees no CUDA device", file=sys.stderr)
EOF

exec "$PYTHON" -m mattinglib.study.gpu_check --out "$OUT_DIR" "$@"
