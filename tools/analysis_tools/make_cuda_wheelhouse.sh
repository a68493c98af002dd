#!/usr/bin/env bash
# Download, here (with registry access), what the GPU machine needs for tools/analysis_tools/cuda_check.py and does
# not have: the OpenMMLab stack, transformers 4.51 (mmpretrain 1.2 needs < 4.52; the machine has 5.x) and the
# dependencies missing there, all as Python 3.12 manylinux x86_64 wheels, plus the mmcv 2.1.0 source (no wheel
# exists for torch 2.11; cuda_check.sh build compiles it there). Nothing the machine already has is downloaded:
# torch, torchvision, numpy, opencv, scipy, matplotlib, ... stay the machine's own.
#
#   bash tools/analysis_tools/make_cuda_wheelhouse.sh [DEST]      # DEST defaults to wheelhouse/ (git-ignored)
#
# Idempotent: files already there are kept (pip skips them), files of other versions are removed. Ends with a
# dependency-closure check (every requirement of every downloaded wheel is in DEST or on the GPU machine) and the
# size, which counts towards the 64 MiB that a device call may carry (working tree + carried paths).
# PYTHON selects the interpreter that runs pip (any Python >= 3.8 with pip; the target is always cp312).
set -euo pipefail
cd "$(dirname "$0")/../.."
DEST=${1:-wheelhouse}
PY=${PYTHON:-python3}
mkdir -p "$DEST"

# Pinned: the versions this was checked with (a clean Python 3.12 + torch 2.11.0+cu130 venv, docs/cuda_check.md).
TOP=(
  mmengine==0.10.7 mmdet==3.3.0 mmsegmentation==1.2.2 mmpretrain==1.2.0
  pycocotools==2.0.11 cityscapesscripts==2.3.0 ftfy==6.3.1 regex==2026.11.19
  transformers==4.51.3 tokenizers==0.21.4 huggingface-hub==0.36.2  # the machine's tokenizers/hub are for 5.x
)
# Requirements of the packages above that the GPU machine lacks (see the closure check below).
DEPS=(
  shapely==2.2.0 terminaltables==3.1.10                       # mmdet
  addict==2.4.0 termcolor==3.3.0 yapf==0.43.0 platformdirs==4.14.8  # mmengine, mmcv
  importlib-metadata==8.7.1 mat4py==0.6.0 modelindex==0.0.2 model-index==0.1.11 ordered-set==4.1.0  # mmpretrain
  prettytable==3.18.0 wcwidth==0.9.4                          # mmsegmentation, ftfy
  appdirs==1.4.4 pyquaternion==0.9.9 coloredlogs==15.0.1 humanfriendly==10.0  # cityscapesscripts
)
# mmcv's setup.py imports pkg_resources (gone in setuptools 81); torch 2.11's extension builder wants >= 77.
BUILD=(setuptools==80.10.2)
MMCV_SDIST=mmcv==2.1.0
NEVER='^(torch|torchvision|torchaudio|triton|numpy|opencv[-_].*|nvidia[-_].*)$'  # the machine's own, never carried

start=$(date +%s)
echo "[wheelhouse] Python 3.12 manylinux x86_64 wheels -> $DEST/"
"$PY" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
  --python-version 3.12 --implementation cp --abi cp312 \
  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_24_x86_64 \
  --platform manylinux_2_28_x86_64 --platform any \
  -d "$DEST" "${TOP[@]}" "${DEPS[@]}" "${BUILD[@]}"

echo "[wheelhouse] $MMCV_SDIST source distribution"
# pip prepares the sdist's metadata by running its setup.py in an isolated build environment: cap setuptools there
# too (PIP_CONSTRAINT reaches that nested pip; it replaces any configured constraint for this one command).
constraint=$(mktemp)
trap 'rm -f "$constraint"' EXIT
echo 'setuptools>=77,<81' >"$constraint"
PIP_CONSTRAINT="$constraint" "$PY" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
  -d "$DEST" "$MMCV_SDIST"

echo "[wheelhouse] checking: pins only, none of the machine's own packages, dependency closure"
"$PY" - "$DEST" "$NEVER" "${TOP[@]}" "${DEPS[@]}" "${BUILD[@]}" "$MMCV_SDIST" <<'EOF'
import os
import re
import sys
import zipfile

dest, never, pins = sys.argv[1], re.compile(sys.argv[2]), sys.argv[3:]
norm = lambda name: re.sub(r'[-_.]+', '-', name).lower()  # noqa: E731  (PEP 503)
wanted = {norm(p.split('==')[0]): p.split('==')[1] for p in pins}

# Packages of the GPU machine's Python (/opt/torch/.venv, Python 3.12): /work/.library/device/KINDS.md, 2026-11.
MACHINE = set(norm(n) for n in '''
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build certifi
charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core cuda-pathfinder
cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock flatbuffers flax fonttools
formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx huggingface-hub humanize hypothesis idna
imageio iniconfig interface-meta jax jaxlib jaxtyping jinja2 joblib kiwisolver lazy-loader lightning
lightning-utilities linear-operator lineax llvmlite lxml markdown markdown-it-py markupsafe matplotlib mdurl meson
ml-dtypes mpi4py mpmath msgpack multidict multipledispatch mypy-extensions nanobind narwhals networkx ninja numba
numba-cuda numpy numpyro nvidia-ml-py onnx onnx-ir onnxruntime onnxscript opencv-python-headless optax opt-einsum
opt-einsum-fx optimistix orbax-checkpoint packaging pandas pathspec patsy peft pillow pip pluggy portalocker
prometheus-client propcache protobuf psutil pyarrow pybind11 py-cpuinfo pygments pyparsing pyproject-hooks
pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock pytest-timeout pytest-xdist python-dateutil
pytorch-lightning pyyaml regex requests rich sacrebleu safetensors scikit-build-core scikit-image scikit-learn scipy
seaborn sentencepiece sentence-transformers setuptools shellingham simplejson six sortedcontainers statsmodels sympy
tabulate tensorboard tensorboard-data-server tensorstore threadpoolctl tifffile tiktoken timm tokenizers toolz torch
torchaudio torchdiffeq torch-geometric torchmetrics torchvision tqdm transformers treescope triton typer
typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel wrapt xarray xxhash yarl zipp
'''.split())
STDLIB = {'typing'}  # cityscapesscripts lists the Python 2 backport
# what the machine offers instead of a requirement (opencv-python: the headless build provides cv2)
SUBSTITUTES = {'opencv-python': 'opencv-python-headless'}

files, bad = {}, []
for fname in sorted(os.listdir(dest)):
    if fname.endswith('.whl'):
        name, version = fname.split('-')[:2]
    elif fname.endswith('.tar.gz'):
        name, version = fname[:-len('.tar.gz')].rsplit('-', 1)
    else:
        continue
    key = norm(name)
    if never.match(key):
        bad.append(f'{fname}: the GPU machine has its own {key}; never carry it')
    if wanted.get(key) != version:  # an older pin's leftover
        os.remove(os.path.join(dest, fname))
        print(f'[wheelhouse] removed {fname} (not pinned)')
        continue
    files[key] = fname
missing_files = sorted(set(wanted) - set(files))
if missing_files:
    bad.append(f'not downloaded: {missing_files}')

try:
    from packaging.markers import Marker
    from packaging.requirements import Requirement
except ImportError:
    from pip._vendor.packaging.markers import Marker
    from pip._vendor.packaging.requirements import Requirement
env = dict(python_version='3.12', python_full_version='3.12.3', sys_platform='linux', platform_system='Linux',
           platform_machine='x86_64', implementation_name='cpython', platform_python_implementation='CPython',
           os_name='posix', extra='')
for key, fname in sorted(files.items()):
    if not fname.endswith('.whl'):
        continue  # mmcv's requirements are the same set as mmengine's (+ packaging, Pillow): checked via those
    with zipfile.ZipFile(os.path.join(dest, fname)) as z:
        meta = next(n for n in z.namelist() if n.endswith('.dist-info/METADATA'))
        lines = z.read(meta).decode('utf-8').splitlines()
    for line in lines:
        if not line.startswith('Requires-Dist:'):
            continue
        req = Requirement(line.split(':', 1)[1].strip())
        if req.marker is not None and not req.marker.evaluate(env):
            continue  # another platform / Python, or an extra
        dep = norm(req.name)
        dep = SUBSTITUTES.get(dep, dep)
        if dep in STDLIB or dep in MACHINE and dep not in files:
            continue
        if dep not in files:
            bad.append(f'{fname} needs {req}: neither in {dest}/ nor on the GPU machine; add it to DEPS')
        elif req.specifier and not req.specifier.contains(wanted[dep], prereleases=True):
            bad.append(f'{fname} needs {req}, {dest}/ has {files[dep]}')
if bad:
    sys.exit('[wheelhouse] FAILED:\n  ' + '\n  '.join(bad))
print(f'[wheelhouse] {len(files)} files, closure complete (the rest is on the GPU machine)')
EOF

bytes=$(du -cb "$DEST"/* | tail -1 | cut -f1)
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb 2>/dev/null | awk 'END {print $1}')
echo "[wheelhouse] $DEST/: $(ls "$DEST" | wc -l) files, $((bytes / 1024 / 1024)) MiB ($bytes bytes);" \
     "working tree $((tree / 1024 / 1024)) MiB; a device call carries at most 64 MiB in all."
echo "[wheelhouse] done in $(($(date +%s) - start)) s; on the GPU machine:" \
     "bash tools/analysis_tools/cuda_check.sh build"
