#!/usr/bin/env bash
# Builds deploy/Dockerfile with Podman and runs the README's commands in the image (issue 19
# point 5). Called by .ci/run with the `inkan` binary the run compiled:
#
#     bash deploy/ci-image.sh target/debug/inkan
#
# What this machine allows, and so what is checked:
# - Container registries cannot be reached from here (Debian's archive and crates.io can), so
#   the Debian base image is made with debootstrap from deb.debian.org and imported.
# - The Rust stage of the Dockerfile is not compiled here: it would add a from-scratch release
#   build to every run. A stand-in builder image holds the binary this run compiled, and its
#   `cargo` checks it is called exactly as the Dockerfile calls it, with the full context (the
#   lock file, the documents the binary embeds). Every other line of the Dockerfile runs.
# - crun refuses this VM's hybrid cgroup layout and the VM cannot raise resource limits, so
#   Podman runs with runc and limits at or below the host's (deploy/ci-containers.conf).
# Then the image runs read-only, as UID 10001, without capabilities: `inkan serve` on a mounted
# configuration answers /health and /ready over TLS 1.3 and stops cleanly on SIGTERM; and
# `inkan serve --dev` inside it is driven by `inkan client` inside it (keys, issue, verify,
# receipt). Containers, volumes and the built image are removed at the end.
set -euo pipefail

binary=$(realpath "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
export CONTAINERS_CONF="$root/deploy/ci-containers.conf"
base=localhost/inkan-ci-debian:bookworm
builder=localhost/inkan-ci-builder:latest
image=localhost/inkan:ci
port=18443
say() { printf '\n== %s\n' "$*"; }

cleanup() {
    podman rm -f -t 0 inkan-ci-serve inkan-ci-dev >/dev/null 2>&1 || true
    podman volume rm -f inkan-ci-data inkan-ci-dev >/dev/null 2>&1 || true
    podman rmi -f "$image" "$builder" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

say "container tools (podman with runc, debootstrap)"
missing=()
for tool in podman runc iptables debootstrap slirp4netns newuidmap curl; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        podman runc iptables debootstrap slirp4netns uidmap netavark aardvark-dns \
        fuse-overlayfs catatonit curl >/dev/null
fi
podman --version

say "Debian bookworm base image, from deb.debian.org (made once, then kept)"
if ! podman image exists "$base"; then
    debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian \
        >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; exit 1; }
    tar -C "$work/rootfs" -c . | podman import - "$base" >/dev/null
    rm -rf "$work/rootfs"
fi

say "stand-in builder holding the binary this run compiled"
mkdir -p "$work/builder"
cp "$binary" "$work/builder/inkan"
cat >"$work/builder/cargo" <<'EOF'
#!/bin/sh
# Stands in for cargo in deploy/Dockerfile's builder stage (see deploy/ci-image.sh).
set -eu
[ "$*" = "build --release --locked -p inkan" ] || { echo "cargo called as: $*" >&2; exit 1; }
for needed in Cargo.lock Cargo.toml crates/inkan/Cargo.toml docs/compliance.md; do
    [ -f "$needed" ] || { echo "the build context lacks $needed" >&2; exit 1; }
done
mkdir -p target/release
cp /opt/inkan target/release/inkan
EOF
chmod 0755 "$work/builder/cargo"
printf 'FROM %s\nCOPY inkan /opt/inkan\nCOPY cargo /usr/local/bin/cargo\n' "$base" \
    >"$work/builder/Containerfile"
podman build -q -t "$builder" "$work/builder" >/dev/null

say "podman build -f deploy/Dockerfile"
podman build -q -f "$root/deploy/Dockerfile" \
    --build-arg RUST_IMAGE="$builder" --build-arg DEBIAN_IMAGE="$base" \
    -t "$image" "$root" >/dev/null
user=$(podman image inspect -f '{{.Config.User}}' "$image")
[ "$user" = "10001:10001" ] || { echo "the image runs as '$user', not 10001:10001"; exit 1; }

say "inkan serve in the image: read-only, no capabilities, a mounted configuration"
mkdir -p "$work/etc"
cat >"$work/etc/inkan.toml" <<EOF
environment = "test"
[server]
listen = "0.0.0.0:8443"
public_url = "https://localhost:$port"
tls_certificate = "/var/lib/inkan/tls/server.crt"
tls_key = "/var/lib/inkan/tls/server.key"
secrets_key_file = "/var/lib/inkan/secrets.key"
[store]
url = "sqlite:///var/lib/inkan/inkan.db"
[device]
kind = "soft"
path = "/var/lib/inkan/soft-token"
kek_file = "/var/lib/inkan/kek"
[signing]
activation_key_file = "/var/lib/inkan/activation.key"
EOF
chmod 0644 "$work/etc/inkan.toml"
secure=(--read-only --cap-drop ALL --security-opt no-new-privileges --tmpfs /tmp:size=16m)
podman run -d --name inkan-ci-serve "${secure[@]}" \
    -v inkan-ci-data:/var/lib/inkan -v "$work/etc:/etc/inkan:ro" \
    -p "127.0.0.1:$port:8443" "$image" serve >/dev/null
for _ in $(seq 1 60); do
    curl -skf --tlsv1.3 "https://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 1
done
podman cp inkan-ci-serve:/var/lib/inkan/tls/server.crt "$work/server.crt"
for path in /health /ready; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/server.crt" \
        --resolve "localhost:$port:127.0.0.1" "https://localhost:$port$path")
    [ "$code" = 200 ] || { echo "$path answered $code"; podman logs inkan-ci-serve | tail; exit 1; }
    echo "$path: 200"
done
if curl -s -o /dev/null --tls-max 1.2 -k "https://127.0.0.1:$port/health"; then
    echo "TLS 1.2 was accepted"; exit 1
fi
podman exec inkan-ci-serve sh -c 'touch /usr/local/bin/x' 2>/dev/null \
    && { echo "the root filesystem is writable"; exit 1; }
[ "$(podman exec inkan-ci-serve id -u)" = 10001 ] || { echo "not UID 10001"; exit 1; }
podman stop -t 30 inkan-ci-serve >/dev/null
status=$(podman inspect -f '{{.State.ExitCode}}' inkan-ci-serve)
[ "$status" = 0 ] || { echo "inkan serve exited $status on SIGTERM"; exit 1; }
echo "stopped on SIGTERM, exit 0"

say "the quick start in the image: inkan serve --dev, then inkan client alone"
podman run -d --name inkan-ci-dev "${secure[@]}" -v inkan-ci-dev:/var/lib/inkan \
    "$image" serve --dev --dev-dir /var/lib/inkan/dev --listen 127.0.0.1:8443 >/dev/null
for _ in $(seq 1 90); do
    podman exec inkan-ci-dev test -f /var/lib/inkan/dev/dev.json 2>/dev/null && break
    sleep 1
done
profiles=/var/lib/inkan/dev/profiles
client() { podman exec -w /var/lib/inkan inkan-ci-dev inkan client --profile "$profiles/$1" "${@:2}"; }
client issuer keys list
did=$(client issuer --json keys list | sed -n 's/.*"did_key": "\([^"]*\)".*/\1/p' | head -1)
podman exec -w /var/lib/inkan inkan-ci-dev sh -c "printf '%s' '{\"@context\":[\"https://www.w3.org/ns/credentials/v2\"],\"type\":[\"VerifiableCredential\"],\"issuer\":\"$did\",\"credentialSubject\":{\"id\":\"did:example:ci\"}}' > vc.json"
client system issue --format vc-jwt --out vc.jwt vc.json
client system verify vc.jwt >/dev/null || { echo "the credential did not verify"; exit 1; }
echo "verified"
client system receipt vc.jwt
echo "the image passed"
