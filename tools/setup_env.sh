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

step() { echo; echo "[setup] $*"; }

# mim (`mim train|test|run oneformer ...`) looks for <dist location>/oneformer/.mim/{tools,configs}, i.e.
# site-packages/oneformer. A PEP 660 editable install has no such folder (an import hook maps `oneformer` to
# projects/oneformer), so link it there: site-packages/oneformer -> projects/oneformer, which makes this a classic
# development install (imports resolve through the link; edits are live). The .mim links inside are made by
# setup.py. `pip uninstall oneformer` leaves the link: remove it with `rm .venv/lib/python3*/site-packages/oneformer`.
link_for_mim() {
  (cd "$ROOT" && "$PY" -B -c 'import setup; setup.add_mim_extension()')  # -B: no __pycache__ in the repo
  local site
  site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  if [ -L "$site/oneformer" ] || [ ! -e "$site/oneformer" ]; then  # never replace a real (wheel) install
    ln -sfn "$ROOT/projects/oneformer" "$site/oneformer"
  fi
  # egg-info left in the checkout by the editable build: from the repo root (cwd on sys.path) pkg_resources
  # would report the checkout as the install location, which has no oneformer/ folder.
  rm -rf "$ROOT/oneformer.egg-info"
  (cd "$ROOT" && "$PY" -W ignore -c "
import os.path as osp, sys
from mim.utils import get_installed_path
script = osp.join(get_installed_path('oneformer'), '.mim', 'tools', 'train.py')
sys.exit(0 if osp.isfile(script) else f'[setup] mim cannot find {script}')")
}

if [ -f "$STAMP" ] && "$PY" -c "import oneformer, mmcv._ext" 2>/dev/null; then
  link_for_mim
  echo "[setup] .venv is up to date (requirements unchanged); nothing to install."
  exit 0
fi

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
  -r requirements/tests.txt -r requirements/optional.txt -r requirements/lint.txt -r requirements/deploy.txt \
  -r requirements/demo.txt \
  -r requirements/build.txt
# see requirements/optional.txt: openmim's own dependency chain would downgrade setuptools to 60.2
"${PIP[@]}" install -q --no-deps -r requirements/mim.txt

step "oneformer (editable)"
"${PIP[@]}" install -q --no-build-isolation --no-deps -e .

step "linking site-packages/oneformer -> projects/oneformer for mim"
link_for_mim

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
