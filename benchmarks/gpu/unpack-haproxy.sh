#!/usr/bin/env bash
# unpack-haproxy.sh DEBS DEST: unpack the .debs fetch-haproxy.sh downloaded into DEST with `dpkg -x`
# (or, where dpkg is missing or UNPACK_WITHOUT_DPKG is set, Python's tarfile on each .deb's data member)
# and write DEST/bin/haproxy, a wrapper that execs HAProxy through the unpacked dynamic loader with the
# unpacked libraries as its library path (LD_LIBRARY_PATH for HAProxy alone: the engines on the same
# machine never load these libraries, and the target's glibc version does not matter). The pid
# deployctl records is HAProxy's own. Put DEST/bin first on PATH. Prints the wrapper's path.
set -euo pipefail
DEBS=$(cd "$1" && pwd)
DEST=$2
mkdir -p "$DEST/root" "$DEST/bin"
for deb in "$DEBS"/*.deb; do
  if command -v dpkg > /dev/null && [ -z "${UNPACK_WITHOUT_DPKG:-}" ]; then
    dpkg -x "$deb" "$DEST/root"
  else
    python3 - "$deb" "$DEST/root" <<'PY'
import io, sys, tarfile
data, offset = open(sys.argv[1], "rb").read(), 8  # "!<arch>\n", then 60-byte member headers
while offset < len(data):
    name, size = data[offset:offset + 16].decode().strip().rstrip("/"), int(data[offset + 48:offset + 58])
    body = data[offset + 60:offset + 60 + size]
    if name.startswith("data.tar"):
        archive = tarfile.open(fileobj=io.BytesIO(body))
        archive.extractall(sys.argv[2], **({"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}))
    offset += 60 + size + (size % 2)
PY
  fi
done
libs="$DEST/root/usr/lib/x86_64-linux-gnu:$DEST/root/lib/x86_64-linux-gnu"
cat > "$DEST/bin/haproxy" <<WRAPPER
#!/bin/sh
LD_LIBRARY_PATH="$libs" exec "$DEST/root/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" "$DEST/root/usr/sbin/haproxy" "\$@"
WRAPPER
chmod +x "$DEST/bin/haproxy"
"$DEST/bin/haproxy" -v >&2
echo "$DEST/bin/haproxy"
