#!/bin/sh
# Makes this directory's fixture with a real apk (apk-tools 3.x): builds .apk packages
# with `apk mkpkg` from the metadata and file layout of real Alpine packages (see
# README.md), installs them with `apk add --initdb` into an empty root, and keeps the
# database apk wrote (installed) and the root as a layer tarball (layer.tar).
#
#   APK=/path/to/apk sh make-fixture.sh
#
# It touches nothing outside a temporary directory and this one; apk runs with
# --root on that temporary root, --no-network, and installs no scripts.
set -eu
: "${APK:?set APK to an apk-tools 3 binary}"
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/pkgs"

# A file's contents: a marker, not the real binary or config (apk records its checksum).
content() { printf 'gantry test fixture: stands in for %s of Alpine package %s\n' "$2" "$1"; }

# pkg NAME VERSION ORIGIN LICENSE DESCRIPTION -- ENTRY...
#   ENTRY is f:PATH (a file), x:PATH (an executable), l:PATH:TARGET (a symlink)
pkg() {
	name=$1 version=$2 origin=$3 license=$4 desc=$5
	shift 6
	tree="$work/tree-$name"
	mkdir -p "$tree"
	for e in "$@"; do
		kind=${e%%:*} rest=${e#*:}
		case $kind in
		f | x)
			mkdir -p "$tree/$(dirname "$rest")"
			content "$name" "/$rest" >"$tree/$rest"
			if [ "$kind" = x ]; then chmod 755 "$tree/$rest"; else chmod 644 "$tree/$rest"; fi
			;;
		l)
			path=${rest%%:*} target=${rest#*:}
			mkdir -p "$tree/$(dirname "$path")"
			ln -s "$target" "$tree/$path"
			;;
		esac
	done
	"$APK" mkpkg --files "$tree" \
		--info "name:$name" --info "version:$version" --info "arch:x86_64" \
		--info "license:$license" --info "origin:$origin" --info "description:$desc" \
		--info "url:https://alpinelinux.org" \
		--output "$work/pkgs/$name-$version.apk"
}

# main/musl/APKBUILD (aports 014f753): musl 1.1.16-r3, license MIT; musl-utils "MIT BSD GPL2+";
# libc6-compat's links for glibc binaries (x86_64).
pkg musl 1.1.16-r3 musl MIT "the musl c library (libc) implementation" -- \
	x:lib/ld-musl-x86_64.so.1 l:lib/libc.musl-x86_64.so.1:ld-musl-x86_64.so.1
pkg musl-utils 1.1.16-r3 musl "MIT BSD GPL2+" "the musl c library (libc) implementation" -- \
	l:usr/bin/ldd:../../lib/ld-musl-x86_64.so.1 x:usr/bin/getent x:usr/bin/getconf x:usr/bin/iconv x:sbin/ldconfig
pkg libc6-compat 1.1.16-r3 musl MIT "compatibility libraries for glibc" -- \
	l:lib/ld-linux-x86-64.so.2:/lib/libc.musl-x86_64.so.1 l:lib/libc.so.6:/lib/libc.musl-x86_64.so.1 \
	l:lib/libm.so.6:/lib/libc.musl-x86_64.so.1 l:lib/libpthread.so.0:/lib/libc.musl-x86_64.so.1 l:lib64:lib
# main/openssl/APKBUILD (aports 0079a0b): openssl 3.0.5-r2, Apache-2.0; libcrypto3 and libssl3 split out.
pkg openssl 3.0.5-r2 openssl Apache-2.0 "Toolkit for Transport Layer Security (TLS)" -- \
	x:usr/bin/openssl
pkg libcrypto3 3.0.5-r2 openssl Apache-2.0 "Crypto library from openssl" -- \
	x:lib/libcrypto.so.3 l:usr/lib/libcrypto.so.3:../../lib/libcrypto.so.3 f:etc/ssl/openssl.cnf \
	x:usr/lib/engines-3/afalg.so x:usr/lib/ossl-modules/legacy.so
pkg libssl3 3.0.5-r2 openssl Apache-2.0 "SSL shared libraries" -- \
	x:lib/libssl.so.3 l:usr/lib/libssl.so.3:../../lib/libssl.so.3

root="$work/root"
mkdir -p "$root"
"$APK" add --root "$root" --initdb --allow-untrusted --no-network --no-scripts --no-cache \
	--repositories-file /dev/null "$work"/pkgs/*.apk
"$APK" --version >"$here/apk-version.txt"

# os-release as Alpine edge writes it (not from a package here; see README.md).
mkdir -p "$root/etc"
cat >"$root/etc/os-release" <<'OS'
NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.17.0_alpha20220809
PRETTY_NAME="Alpine Linux edge"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
OS

cp "$root/lib/apk/db/installed" "$here/installed"
# The layer: the whole root, as a plain tar with numeric owners and a fixed mtime.
tar --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$root" -cf "$here/layer.tar" .
(cd "$root" && find . | LC_ALL=C sort) >"$here/layer.list"
