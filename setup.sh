#!/usr/bin/env bash
# Set up lmech in ./.venv: the right torch build first, then lmech itself.
#   ./setup.sh          runtime only (enough for `lmech check`)
#   ./setup.sh --dev    plus the test tools (pytest, hypothesis, ruff), the peers the
#                       tests compare against (scikit-dimension, mup) and Ray
# Environment:
#   PYTHON=python3.12     interpreter to build the venv from (>= 3.11; default python3)
#   TORCH_INDEX=URL       pip index for torch, e.g. https://download.pytorch.org/whl/cpu
#                         (a plain PyPI torch on Linux is the multi-GB CUDA build)
set -euo pipefail
cd "$(dirname "$0")"
extras=""
[[ "${1:-}" == "--dev" ]] && extras="[dev]"
PYTHON="${PYTHON:-python3}"

if [[ ! -x .venv/bin/python ]]; then
  "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "lmech needs Python >= 3.11")'
  "$PYTHON" -m venv .venv
fi
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)

if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  index=()
  [[ -n "${TORCH_INDEX:-}" ]] && index=(--index-url "$TORCH_INDEX")
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "setup: GPU found, installing a CUDA build of torch"
    "${pip[@]}" install "${index[@]}" "torch>=2.2,<3"
  else
    echo "setup: no GPU, installing the CPU build torch==2.13.0"
    "${pip[@]}" install "${index[@]}" "torch==2.13.0"
  fi
fi
"${pip[@]}" install -e ".${extras}"
# mup (the peer the muP tests compare against) declares torchvision and tqdm, which it
# does not need for what lmech compares; installed without its dependencies
[[ -n "$extras" ]] && "${pip[@]}" install --no-deps "mup==1.0.0"

# Real data for the data laws (no downloads at run time): Fashion-MNIST from Debian.
# Best effort: without it those laws are reported as skipped, never as passed.
if [[ ! -d /usr/share/datasets/fashion-mnist && -z "${LMECH_FASHION_MNIST:-}" ]]; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's dataset-fashion-mnist"
    apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1; } \
      || echo "setup: could not install dataset-fashion-mnist; eigenlearning-fashion-mnist will be skipped"
  else
    echo "setup: Fashion-MNIST not found; run 'sudo apt-get install dataset-fashion-mnist' (or set LMECH_FASHION_MNIST) for eigenlearning-fashion-mnist"
  fi
fi
echo "setup: done ($(.venv/bin/python -c 'import torch, lmech; print("lmech", lmech.__version__, "torch", torch.__version__)'))"
