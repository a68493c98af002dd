#!/usr/bin/env bash
# The GPU machine's side of tools/analysis_tools/cuda_check.py (docs/cuda_check.md).
#
#   bash tools/analysis_tools/cuda_check.sh build          # venv + wheelhouse + mmcv 2.1.0 with CUDA ops + oneformer
#   bash tools/analysis_tools/cuda_check.sh run [ARGS...]  # python tools/analysis_tools/cuda_check.py ARGS in that venv
#
# The machine reaches no package registry: everything comes from wheelhouse/ (made here by make_cuda_wheelhouse.sh
# and carried). torch, torchvision, numpy, opencv, ... stay the machine's own: the venv sees its Python's packages.
# Both steps are idempotent: a second `build` on a warm machine checks and returns in seconds; the compiled mmcv
# wheel is kept in .cuda_build/ (git-ignored), which can also be carried to skip the compilation on a fresh machine.
#
# Environment: BASE_PYTHON (default python3, the Python that has the CUDA torch), CUDA_VENV (.cuda_venv),
# WHEELHOUSE (wheelhouse), CUDA_BUILD_DIR (.cuda_build), TORCH_CUDA_ARCH_LIST (9.0: H100/H200), MAX_JOBS (nproc),
# MMCV_WITH_OPS (1; 0 builds mmcv without ops) and FORCE_CUDA (defaults to MMCV_WITH_OPS; 0 compiles the CPU ops
# only): both only to test this script on a machine without a CUDA compiler,
# CUDA_CHECK_EXPORT (default $OUT where set: the report and log of `run` are written there, the mmcv build log
# (on failure) and a <= 16 MiB mmcv wheel copied there; unset: work_dirs/cuda_check/).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BASE_PY=${BASE_PYTHON:-python3}
VENV=${CUDA_VENV:-$ROOT/.cuda_venv}
WHEELHOUSE=${WHEELHOUSE:-$ROOT/wheelhouse}
BUILD_DIR=${CUDA_BUILD_DIR:-$ROOT/.cuda_build}
EXPORT=${CUDA_CHECK_EXPORT:-${OUT:-}}
PY="$VENV/bin/python"
MMCV_VERSION=2.1.0

t_all=$(date +%s)
step_start=$t_all
step() { echo "[cuda_check.sh] $*"; step_start=$(date +%s); }
done_step() { echo "[cuda_check.sh]   ... $* ($(($(date +%s) - step_start)) s)"; }
die() { echo "[cuda_check.sh] ERROR: $*" >&2; exit 1; }

site_packages() { "$1" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }

make_venv() {
  step "venv $VENV over $BASE_PY"
  command -v "$BASE_PY" >/dev/null || die "no $BASE_PY here: set BASE_PYTHON to the Python that has the CUDA torch"
  "$BASE_PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' ||
    die "$BASE_PY is Python $("$BASE_PY" -c 'import platform; print(platform.python_version())');" \
        "the wheelhouse holds cp312 wheels"
  if [ ! -x "$PY" ]; then
    # without ensurepip (a Debian python3 without python3-venv) the venv gets no pip of its own: the base's pip,
    # reached through the .pth file below, then installs into the venv
    "$BASE_PY" -m venv --system-site-packages "$VENV" ||
      { rm -rf "$VENV" && "$BASE_PY" -m venv --system-site-packages --without-pip "$VENV"; }
  fi
  # When the base Python is itself a venv (the GPU machine's python3 is /opt/torch/.venv/bin/python3), a venv made
  # from it sees the *interpreter's* site-packages, not the base venv's, so torch would be missing: list the base
  # venv's site-packages in a .pth file. They come after the venv's own, so the wheelhouse's versions
  # (transformers 4.51, ...) take precedence over the machine's.
  local site base_sites
  site=$(site_packages "$PY")
  base_sites=$("$BASE_PY" -c 'import site, sys
print("\n".join(p for p in site.getsitepackages() + [site.getusersitepackages()] if p in sys.path))')
  printf '%s\n' "$base_sites" >"$site/_cuda_check_base_site.pth"
  local info
  info=$("$PY" -c 'import sys, torch
print(f"Python {sys.version.split()[0]}, torch {torch.__version__}, CUDA {torch.version.cuda},"
      f" GPU: {torch.cuda.is_available()}")') ||
    die "the venv $VENV cannot import torch (base site-packages: $base_sites; is torch in $BASE_PY?)"
  "$PY" -m pip --version >/dev/null || die "no pip in the venv $VENV nor in $BASE_PY's site-packages"
  done_step "$info"
}

install_wheelhouse() {
  step "wheelhouse $WHEELHOUSE"
  ls "$WHEELHOUSE"/*.whl >/dev/null 2>&1 ||
    die "no wheels in $WHEELHOUSE: run tools/analysis_tools/make_cuda_wheelhouse.sh where pip reaches a" \
        "registry, and carry wheelhouse"
  local stamp="$VENV/.wheelhouse-$(ls "$WHEELHOUSE" | sha256sum | cut -c1-16)"
  if [ -f "$stamp" ]; then
    done_step "already installed"
    return
  fi
  # --no-deps: the wheelhouse is the closure of what the machine lacks (checked by make_cuda_wheelhouse.sh); pip's
  # resolver would ask for opencv-python, which the machine has as opencv-python-headless.
  "$PY" -m pip install -q --disable-pip-version-check --no-index --no-deps --no-compile --find-links "$WHEELHOUSE" \
    "$WHEELHOUSE"/*.whl
  rm -f "$VENV"/.wheelhouse-*
  touch "$stamp"
  done_step "$(ls "$WHEELHOUSE"/*.whl | wc -l) wheels installed"
}

mmcv_ok() {
  "$PY" - "$MMCV_VERSION" "${MMCV_WITH_OPS:-1}" <<'EOF' 2>/dev/null
import sys
import mmcv
assert mmcv.__version__ == sys.argv[1], mmcv.__version__
if sys.argv[2] == '1':
    import mmcv._ext  # noqa: F401
    from mmcv.ops import get_compiling_cuda_version
    import torch
    # built with CUDA where the machine has CUDA (a CPU-only build says 'not available')
    assert not torch.cuda.is_available() or get_compiling_cuda_version() != 'not available'
EOF
}

build_mmcv() {
  step "mmcv $MMCV_VERSION (MMCV_WITH_OPS=${MMCV_WITH_OPS:-1})"
  if mmcv_ok; then
    done_step "already installed"
    return
  fi
  mkdir -p "$BUILD_DIR"
  local wheel
  wheel=$(ls -t "$BUILD_DIR"/mmcv*-"$MMCV_VERSION"-*.whl 2>/dev/null | head -1 || true)
  if [ -n "$wheel" ]; then  # built earlier (warm machine) or carried in .cuda_build/
    echo "[cuda_check.sh]   trying the wheel built earlier: $wheel"
    "$PY" -m pip install -q --disable-pip-version-check --no-index --no-deps --force-reinstall "$wheel"
    if ! mmcv_ok; then
      echo "[cuda_check.sh]   $(basename "$wheel") has no usable ops here (another build?): compiling instead"
      rm -f "$wheel"
      wheel=
    fi
  fi
  if [ -z "$wheel" ]; then
    local sdist="$WHEELHOUSE/mmcv-$MMCV_VERSION.tar.gz"
    [ -f "$sdist" ] || die "$sdist is missing: run make_cuda_wheelhouse.sh and carry wheelhouse"
    local jobs=${MAX_JOBS:-$(nproc)}
    local arch=${TORCH_CUDA_ARCH_LIST:-9.0}
    local force_cuda=${FORCE_CUDA:-${MMCV_WITH_OPS:-1}}
    if [ "$force_cuda" = 1 ]; then
      command -v nvcc >/dev/null || [ -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ] ||
        die "no nvcc (CUDA_HOME=${CUDA_HOME:-unset}): the CUDA ops cannot be compiled here"
      echo "[cuda_check.sh]   compiling the CUDA ops for TORCH_CUDA_ARCH_LIST=$arch with $jobs jobs (several" \
           "minutes); log: $BUILD_DIR/mmcv_build.log"
    fi
    # --no-build-isolation: build against the machine's torch (and the wheelhouse's setuptools < 81).
    if ! MMCV_WITH_OPS=${MMCV_WITH_OPS:-1} FORCE_CUDA=$force_cuda TORCH_CUDA_ARCH_LIST=$arch MAX_JOBS=$jobs \
        "$PY" -m pip wheel -v --disable-pip-version-check --no-index --no-deps --no-build-isolation \
        -w "$BUILD_DIR" "$sdist" >"$BUILD_DIR/mmcv_build.log" 2>&1; then
      grep -n -m 20 -E '(error|Error)[: ]' "$BUILD_DIR/mmcv_build.log" || true
      tail -40 "$BUILD_DIR/mmcv_build.log"
      if [ -n "$EXPORT" ]; then mkdir -p "$EXPORT" && cp "$BUILD_DIR/mmcv_build.log" "$EXPORT/"; fi
      die "building mmcv $MMCV_VERSION failed (full log: $BUILD_DIR/mmcv_build.log)"
    fi
    wheel=$(ls -t "$BUILD_DIR"/mmcv*-"$MMCV_VERSION"-*.whl | head -1)
    "$PY" -m pip install -q --disable-pip-version-check --no-index --no-deps --force-reinstall "$wheel"
    mmcv_ok || die "$wheel is installed but does not import as mmcv $MMCV_VERSION with (CUDA) ops"
  fi
  local size
  size=$(stat -c %s "$wheel")
  if [ -n "$EXPORT" ] && [ "$size" -le $((16 * 1024 * 1024)) ]; then
    mkdir -p "$EXPORT" && cp "$wheel" "$EXPORT/"
    echo "[cuda_check.sh]   copied $(basename "$wheel") to $EXPORT: put it in .cuda_build/ and carry that to" \
         "skip the build"
  fi
  done_step "$(basename "$wheel"), $((size / 1024 / 1024)) MiB"
}

install_project() {
  step "oneformer (this checkout, via a .pth file: no build, edits are live)"
  local site
  site=$(site_packages "$PY")
  echo "$ROOT/projects" >"$site/_cuda_check_oneformer.pth"
  "$PY" - <<'EOF' || die "the stack does not import (traceback above)"
import mmcv, mmdet, mmengine, mmpretrain, mmseg, torch, transformers
import oneformer
import mmpretrain.models  # noqa: F401  (fails with transformers >= 4.52)
print(f'[cuda_check.sh]   torch {torch.__version__}, mmcv {mmcv.__version__}, mmengine {mmengine.__version__}, '
      f'mmdet {mmdet.__version__}, mmseg {mmseg.__version__}, mmpretrain {mmpretrain.__version__}, '
      f'transformers {transformers.__version__}, oneformer {oneformer.__version__} from {oneformer.__file__}')
EOF
  done_step "imports ok"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  build)
    make_venv
    install_wheelhouse
    build_mmcv
    install_project
    echo "[cuda_check.sh] build done in $(($(date +%s) - t_all)) s; next: bash tools/analysis_tools/cuda_check.sh run"
    ;;
  run)
    [ -x "$PY" ] || die "no venv at $VENV: run 'bash tools/analysis_tools/cuda_check.sh build' first"
    # straight into the export folder where there is one: the report is rewritten after every row, so what was
    # done comes back even when the command is stopped at its time limit (a later --out in ARGS wins)
    out=${EXPORT:-work_dirs/cuda_check}
    mkdir -p "$out"
    set +e
    PYTHONUNBUFFERED=1 "$PY" tools/analysis_tools/cuda_check.py --out "$out/cuda_check.json" "$@" 2>&1 |
      tee "$out/cuda_check.log"
    rc=${PIPESTATUS[0]}
    set -e
    echo "[cuda_check.sh] run finished in $(($(date +%s) - t_all)) s with exit code $rc"
    exit "$rc"
    ;;
  *)
    echo "usage: bash tools/analysis_tools/cuda_check.sh build | run [cuda_check.py arguments]" >&2
    exit 2
    ;;
esac
