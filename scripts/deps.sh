#!/bin/sh
# Make sure every build and test dependency is present on a Debian machine.
#
# Why this exists: the README promises that `make run` and `make test` are
# the only two commands a user types on a fresh Debian 12 box.  Both call
# this script first.  It checks each library with pkg-config (and each tool
# with `command -v`), installs only what is missing with apt-get, printing
# what it installs, and without root it stops with the exact command to run.
set -eu

# pkg-config module -> Debian package
LIBS="libzmq:libzmq3-dev libczmq:libczmq-dev msgpack:libmsgpack-dev jansson:libjansson-dev libcares:libc-ares-dev cmocka:libcmocka-dev"
# command (or file) -> Debian package, for tests, fuzzing and discovery
TOOLS="pkg-config:pkg-config cc:gcc make:make dnsmasq:dnsmasq-base clang:clang /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a:libclang-rt-14-dev valgrind:valgrind"
PYMODS="zmq:python3-zmq msgpack:python3-msgpack"

missing=""
add() { case " $missing " in *" $1 "*) ;; *) missing="$missing $1" ;; esac; }

for pair in $TOOLS; do
    what=${pair%%:*}; pkg=${pair##*:}
    case "$what" in
        /*) [ -e "$what" ] || { [ "$(uname -m)" = x86_64 ] && add "$pkg"; } ;;
        dnsmasq) command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] || add "$pkg" ;;
        *) command -v "$what" >/dev/null 2>&1 || add "$pkg" ;;
    esac
done
for pair in $LIBS; do
    mod=${pair%%:*}; pkg=${pair##*:}
    if command -v pkg-config >/dev/null 2>&1; then
        pkg-config --exists "$mod" 2>/dev/null || add "$pkg"
    else
        add "$pkg"
    fi
done
for pair in $PYMODS; do
    mod=${pair%%:*}; pkg=${pair##*:}
    /usr/bin/python3 -c "import $mod" >/dev/null 2>&1 || add "$pkg"
done
[ -x /usr/bin/python3 ] || add python3

if [ -z "$missing" ]; then
    exit 0
fi

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
    echo "thingsbus: missing build dependencies:$missing" >&2
    echo "thingsbus: as root, run:  apt-get update && $cmd" >&2
    exit 1
fi
echo "thingsbus: installing missing packages:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null || { echo "thingsbus: apt-get update failed" >&2; exit 1; }
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing </dev/null
