# shellcheck shell=bash
# Shared by hack/demo.sh and hack/test.sh: source it, don't run it.

# Debian packages kiste's scripts and tests use. runc and crun are only for
# the conformance comparison and the benchmark; gcc builds the benchmark's
# helper (and is the linker cargo calls). docker-registry and skopeo are for
# the image pull tests (tests/pull.rs runs its own registry on loopback; the
# package's system service is not used).
KISTE_PACKAGES=(busybox-static runc crun jq libseccomp-dev pkg-config python3 gcc libc6-dev qemu-system-x86 linux-image-amd64 cpio bsdutils containerd podman conmon umoci musl-tools docker-registry skopeo)

heading() {
    printf '\n==> %s\n' "$*"
}

# Installs whatever of the named packages (default: KISTE_PACKAGES) is
# missing (apt-get update first, and only then). Returns non-zero if that was
# not possible.
ensure_packages() {
    local wanted=("$@")
    [ ${#wanted[@]} -gt 0 ] || wanted=("${KISTE_PACKAGES[@]}")
    if ! command -v dpkg-query >/dev/null 2>&1; then
        echo "not a Debian system: make sure these are installed: ${wanted[*]}"
        return 0
    fi
    local missing=() p
    for p in "${wanted[@]}"; do
        if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$p")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        echo "all present: ${wanted[*]}"
        return 0
    fi
    echo "installing: ${missing[*]}"
    if [ "$(id -u)" != 0 ]; then
        echo "not root: run as root, or: apt-get install -y ${missing[*]}" >&2
        return 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
}

# Puts cargo on PATH (rustup installs it in ~/.cargo/bin).
ensure_cargo() {
    if ! command -v cargo >/dev/null 2>&1 && [ -x "${HOME:-/root}/.cargo/bin/cargo" ]; then
        PATH=${HOME:-/root}/.cargo/bin:$PATH
        export PATH
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        echo "cargo not found: install Rust >= 1.85 (edition 2024), e.g. with rustup" >&2
        return 1
    fi
    # The build target (.cargo/config.toml): a static musl binary.
    if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
        rustup target add x86_64-unknown-linux-musl || return 1
    fi
}

# counts LOG RC: "P F" from the last `N passed, N failed` line of LOG (maybe
# after one `word:`), with one failure added when the command's exit status
# RC was non-zero but no failure was counted (it crashed or never reported).
counts() {
    local p f
    read -r p f <<<"$(sed -n -E 's/^([A-Za-z]+: *)?([0-9]+) passed, ([0-9]+) failed.*$/\2 \3/p' "$1" |
        tail -n 1 | awk '{p = $1; f = $2} END {print p + 0, f + 0}')"
    if [ "$2" != 0 ] && [ "$f" = 0 ]; then
        f=1
    fi
    echo "$p $f"
}
