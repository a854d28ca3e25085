#!/usr/bin/env bash
# lm-evaluation-harness 0.4.13 (`lm_eval[api]`) for the lent H200 machines, which cannot fetch anything:
# fills .whl-eval/ (in .gitignore), which `benchmarks/gpu/h200.sh install-mo` installs when it exists
# (carry .whl-eval in that call). Run here, from the project's root, with registry access (~20 s, ~12 MB).
# wheels-eval.txt lists what lm_eval[api] needs beyond the H200 image's packages (the device tool's
# KINDS.md lists them: aiohttp, tiktoken, requests, tqdm, scikit-learn, sacrebleu, absl-py, pandas,
# pyarrow, xxhash, fsspec, jinja2 ... are there): cp312 manylinux wheels, pinned to the versions this
# project's CPU venv resolves. Three of lm-eval's dependencies publish only sdists (pure Python): they
# are built into wheels here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p .whl-eval
plat="--platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64"
while read -r req; do
  [ -n "$req" ] || continue
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    $plat -d .whl-eval "$req"
done < "$here/wheels-eval.txt"
python3 -m pip wheel -q --no-deps -w .whl-eval rouge_score==0.1.2 sqlitedict==2.1.0 word2number==1.1
du -sh .whl-eval
