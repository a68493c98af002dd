#!/usr/bin/env bash
# Idempotent set-up: creates .venv/ at the repo root and installs the whole stack in the order it needs.
# A second run with unchanged requirements only checks a stamp and imports the package (seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
PYTHON=${PYTHON:-python3}

stamp_src() { cat requirements/*.txt setup.py tools/setup_env.sh | sha256sum | cut -d' ' -f1; }
STAMP="$VENV/.oneformer-setup-$(stamp_src)"

if [ -f "$STAMP" ] && "$PY" -c "import oneformer, mmcv._ext" 2>/dev/null; then
  echo "[setup] .venv is up to date (requirements unchanged); nothing to install."
  exit 0
fi

step() { echo; echo "[setup] $*"; }

if [ ! -x "$PY" ]; then
  step "creating virtual environment in $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$PY" -m pip --disable-pip-version-check)
CERT=()
[ -f /etc/ssl/certs/ca-certificates.crt ] && CERT=(--cert /etc/ssl/certs/ca-certificates.crt)

step "build tools (setuptools<81 keeps pkg_resources for mmcv's setup.py and mim)"
"${PIP[@]}" install -q -r requirements/build.txt

if "$PY" -c "import torch, torchvision, sys; sys.exit(not (torch.__version__.startswith('2.13.0') and torchvision.__version__.startswith('0.28.0')))" 2>/dev/null; then
  step "torch $("$PY" -c 'import torch; print(torch.__version__)') + torchvision already installed"
else
  step "torch 2.13.0 + torchvision 0.28.0 from the registry (~4 GB of CUDA wheels; they run on CPU). About a minute."
  # --isolated: ignore the machine's pip config, whose local CPU torch cannot load the registry's torchvision.
  "${PIP[@]}" install --isolated "${CERT[@]}" -q -r requirements/torch.txt
fi

if "$PY" -c "import mmcv, mmcv._ext, sys; sys.exit(mmcv.__version__ != '2.1.0')" 2>/dev/null; then
  step "mmcv 2.1.0 with compiled ops already installed"
else
  step "mmcv 2.1.0 with compiled ops: building from the sdist. This takes about 13 minutes on 2 cores" \
       "the first time (pip caches the wheel; later installs take seconds)."
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} "${PIP[@]}" install --no-build-isolation -q "mmcv==2.1.0"
fi

step "OpenMMLab packages, evaluation and tokenizer dependencies, test and mim extras"
"${PIP[@]}" install -q -r requirements/mminstall.txt -r requirements/runtime.txt \
  -r requirements/tests.txt -r requirements/optional.txt

step "oneformer (editable)"
"${PIP[@]}" install -q --no-build-isolation --no-deps -e .

step "checking the install"
"$PY" - <<'EOF'
import torch, torchvision, mmcv, mmcv._ext, mmengine, mmdet, mmseg, mmpretrain, oneformer
print(f'[setup] torch {torch.__version__}, torchvision {torchvision.__version__}, mmcv {mmcv.__version__} (ops compiled), '
      f'mmengine {mmengine.__version__}, mmdet {mmdet.__version__}, mmseg {mmseg.__version__}, '
      f'mmpretrain {mmpretrain.__version__}, oneformer {oneformer.__version__}')
EOF
rm -f "$VENV"/.oneformer-setup-*
touch "$STAMP"
echo "[setup] done: activate with 'source .venv/bin/activate'"
