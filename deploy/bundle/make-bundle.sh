#!/usr/bin/env bash
# Builds Gatehouse's offline bundle for networks with no internet: the release binary, the
# container image (when docker is available), plugin packages, the deployment files and the
# docs, with SHA256SUMS and a minisign signature of it. See README.md beside this script.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: deploy/bundle/make-bundle.sh --key SECRET_KEY [options]

Writes OUT/gatehouse-<version>-linux-<arch>/ (with SHA256SUMS and SHA256SUMS.minisig) and
OUT/gatehouse-<version>-linux-<arch>.tar.

Options:
  --key FILE       minisign secret key that signs SHA256SUMS (required)
  --pubkey FILE    its public key: verify the bundle right after signing (recommended)
  --binary FILE    take this gatehouse binary instead of building one with cargo
  --version VER    bundle version (default: what `gatehouse --version` prints)
  --image REF      save this container image (docker save); fails without docker
  --build-image    build the image from deploy/Dockerfile first, then save it
  --no-image       leave the container image out
                   (default: save gatehouse:<version> if docker has it, else skip it)
  --plugins DIR    add the signed plugin packages (*.tar, *.tar.gz) found in DIR
  --out DIR        output directory (default: target/bundle in the repository)
  --dry-run        check tools and inputs and print the plan; write nothing
  -h, --help       show this help

Environment: CARGO, CARGO_TARGET_DIR, DOCKER, MINISIGN name the tools to use.
EOF
}

log() { printf '==> %s\n' "$*" >&2; }
note() { printf '    %s\n' "$*" >&2; }
die() {
    printf 'make-bundle: error: %s\n' "$*" >&2
    exit 1
}

# `need TOOL WHY HINT`: refuse clearly when a tool is missing.
need() {
    if ! command -v "$1" >/dev/null 2>&1; then
        die "'$1' is required ($2) but was not found. $3"
    fi
}

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$script_dir/../.." && pwd)"

key=""
pubkey=""
binary=""
version=""
image_mode="auto"
image_ref=""
plugins_dir=""
out="$root/target/bundle"
dry_run=0

while [ $# -gt 0 ]; do
    case "$1" in
        --key) key="${2:?--key needs a file}"; shift 2 ;;
        --pubkey) pubkey="${2:?--pubkey needs a file}"; shift 2 ;;
        --binary) binary="${2:?--binary needs a file}"; shift 2 ;;
        --version) version="${2:?--version needs a value}"; shift 2 ;;
        --image) image_mode="save"; image_ref="${2:?--image needs an image reference}"; shift 2 ;;
        --build-image) image_mode="build"; shift ;;
        --no-image) image_mode="none"; shift ;;
        --plugins) plugins_dir="${2:?--plugins needs a directory}"; shift 2 ;;
        --out) out="${2:?--out needs a directory}"; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument '$1'" ;;
    esac
done

# Absolute paths: the script changes directory on the way.
absolute() {
    case "$1" in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s\n' "$PWD/$1" ;;
    esac
}
[ -z "$key" ] || key="$(absolute "$key")"
[ -z "$pubkey" ] || pubkey="$(absolute "$pubkey")"
[ -z "$binary" ] || binary="$(absolute "$binary")"
[ -z "$plugins_dir" ] || plugins_dir="$(absolute "$plugins_dir")"
out="$(absolute "$out")"

cargo_bin="${CARGO:-cargo}"
docker_bin="${DOCKER:-docker}"
minisign_bin="${MINISIGN:-minisign}"

# --- Tools and inputs: everything is checked before anything is written. ------------------
log "checking tools and inputs"
need sha256sum "to write SHA256SUMS" "Install GNU coreutils."
need tar "to pack the bundle" "Install GNU tar."
need "$minisign_bin" "to sign SHA256SUMS" \
    "Install minisign (Debian/Ubuntu: apt-get install minisign) or set MINISIGN to its path."

[ -n "$key" ] || die "--key is required: the minisign secret key that signs SHA256SUMS (create one with 'minisign -G')"
[ -r "$key" ] || die "cannot read the signing key $key"
if [ -n "$pubkey" ] && [ ! -r "$pubkey" ]; then
    die "cannot read the public key $pubkey"
fi

if [ -n "$binary" ]; then
    if [ ! -f "$binary" ] || [ ! -x "$binary" ]; then
        die "--binary $binary is not an executable file"
    fi
else
    need "$cargo_bin" "to build the release binary" \
        "Install Rust (rustup) or pass a prebuilt binary with --binary."
fi

if [ -n "$plugins_dir" ]; then
    [ -d "$plugins_dir" ] || die "--plugins $plugins_dir is not a directory"
fi

docker_ready=0
if command -v "$docker_bin" >/dev/null 2>&1 && "$docker_bin" info >/dev/null 2>&1; then
    docker_ready=1
fi
case "$image_mode" in
    save | build)
        [ "$docker_ready" = 1 ] || die "the container image needs docker, and '$docker_bin' is missing or its daemon is not reachable (use --no-image to leave the image out)"
        ;;
esac

target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac

# --- The binary. -----------------------------------------------------------------------------
if [ -z "$binary" ]; then
    if [ "$dry_run" = 1 ]; then
        note "would build: $cargo_bin build --release --locked -p gatehouse-cli"
        binary="$target_dir/release/gatehouse"
    else
        log "building the release binary (cargo build --release --locked -p gatehouse-cli)"
        (cd "$root" && "$cargo_bin" build --release --locked -p gatehouse-cli)
        binary="$target_dir/release/gatehouse"
        [ -x "$binary" ] || die "cargo finished but $binary is missing"
    fi
fi

if [ -z "$version" ]; then
    if [ -x "$binary" ]; then
        version="$("$binary" --version | awk '{print $2}')"
    else
        version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)"
    fi
fi
case "$version" in
    "" | *[!A-Za-z0-9.+-]*) die "cannot use '$version' as the bundle version (set --version)" ;;
esac

case "$(uname -m)" in
    x86_64 | amd64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) arch="$(uname -m)" ;;
esac
name="gatehouse-${version}-linux-${arch}"
bundle="$out/$name"
[ ! -e "$bundle" ] || die "$bundle already exists; remove it or choose another --out"
[ ! -e "$bundle.tar" ] || die "$bundle.tar already exists; remove it or choose another --out"

if [ "$image_mode" = auto ]; then
    if [ "$docker_ready" = 1 ] && "$docker_bin" image inspect "gatehouse:$version" >/dev/null 2>&1; then
        image_mode="save"
        image_ref="gatehouse:$version"
    else
        image_mode="none"
        note "no container image: docker is unavailable or has no gatehouse:$version (use --build-image to build it)"
    fi
fi
if [ "$image_mode" = build ]; then
    image_ref="gatehouse:$version"
fi

builtin_dir="$target_dir/wasm-plugins/wasm32-wasip2/release"

if [ "$dry_run" = 1 ]; then
    log "dry run: the bundle would be $bundle (+ .tar)"
    note "binary:   $binary (version $version)"
    note "image:    ${image_ref:-none} ($image_mode)"
    note "plugins:  ${plugins_dir:-none}; built-in components from $builtin_dir"
    note "signing:  $minisign_bin -S -s $key"
    log "dry run: nothing written"
    exit 0
fi

# --- Assemble in a temporary directory, renamed into place only when complete. -------------
mkdir -p "$out"
stage="$(mktemp -d "$out/.${name}.XXXXXX")"
cleanup() { rm -rf "$stage" "$stage.sums"; }
trap cleanup EXIT

log "assembling $name"
install -D -m 0755 "$binary" "$stage/bin/gatehouse"

# Deployment files and docs, never local secrets (.env, compose secrets, key files).
tar -C "$root" \
    --exclude='deploy/compose/.env' \
    --exclude='deploy/compose/secrets/*' \
    --exclude='deploy/bundle' \
    --exclude='*.key' \
    -cf - deploy docs | tar -C "$stage" -xf -
install -m 0644 "$script_dir/README.md" "$stage/README.md"
printf '%s\n' "$version" >"$stage/VERSION"

# What the binary was built from, for audits.
mkdir -p "$stage/sbom"
for lock in Cargo.lock plugins/Cargo.lock admin/package-lock.json; do
    if [ -f "$root/$lock" ]; then
        install -D -m 0644 "$root/$lock" "$stage/sbom/$lock"
    fi
done

mkdir -p "$stage/plugins"
shopt -s nullglob
builtins=("$builtin_dir"/gatehouse_provider_*.wasm "$builtin_dir"/gatehouse_widget_*.wasm "$builtin_dir"/gatehouse_webhook_*.wasm)
if [ "${#builtins[@]}" -gt 0 ]; then
    log "adding ${#builtins[@]} built-in plugin components (already inside the binary; for inspection)"
    install -d "$stage/plugins/builtin"
    install -m 0644 "${builtins[@]}" "$stage/plugins/builtin/"
else
    note "no built-in plugin components in $builtin_dir (they are inside the binary either way)"
fi
if [ -n "$plugins_dir" ]; then
    packages=("$plugins_dir"/*.tar "$plugins_dir"/*.tar.gz)
    [ "${#packages[@]}" -gt 0 ] || die "no plugin packages (*.tar, *.tar.gz) in $plugins_dir"
    log "adding ${#packages[@]} plugin package(s) from $plugins_dir"
    install -m 0644 "${packages[@]}" "$stage/plugins/"
fi
shopt -u nullglob

if [ "$image_mode" = build ]; then
    log "building the container image $image_ref"
    "$docker_bin" build -f "$root/deploy/Dockerfile" -t "$image_ref" "$root"
fi
if [ "$image_mode" = save ] || [ "$image_mode" = build ]; then
    log "saving the container image $image_ref"
    mkdir -p "$stage/image"
    "$docker_bin" save "$image_ref" -o "$stage/image/gatehouse-${version}.image.tar"
fi

# --- Checksums and signature. ----------------------------------------------------------------
log "writing SHA256SUMS"
sums="$stage.sums"
(
    cd "$stage"
    find . -type f -printf '%P\n' | LC_ALL=C sort |
        while IFS= read -r file; do sha256sum -- "$file"; done >"$sums"
)
mv "$sums" "$stage/SHA256SUMS"
chmod 0644 "$stage/SHA256SUMS"
note "$(wc -l <"$stage/SHA256SUMS") files"

log "signing SHA256SUMS with $key"
"$minisign_bin" -S -s "$key" -m "$stage/SHA256SUMS" -x "$stage/SHA256SUMS.minisig" \
    -t "gatehouse $version offline bundle ($name)"

if [ -n "$pubkey" ]; then
    log "verifying the bundle with $pubkey"
    "$minisign_bin" -V -q -p "$pubkey" -m "$stage/SHA256SUMS" -x "$stage/SHA256SUMS.minisig" ||
        die "the signature does not verify with $pubkey (wrong key pair?)"
    (cd "$stage" && sha256sum --quiet -c SHA256SUMS) || die "SHA256SUMS does not match the files"
fi

mv "$stage" "$bundle"
trap - EXIT

log "packing $name.tar"
tar -C "$out" --sort=name --owner=0 --group=0 --numeric-owner -cf "$bundle.tar" "$name"

log "done: $bundle.tar"
note "verify after transfer: tar -xf $name.tar && cd $name && sha256sum -c SHA256SUMS && minisign -Vm SHA256SUMS -p <your key.pub>"
