#!/bin/sh
# Vendors Redoc's standalone bundle from the npm registry into assets/.
# Run by `make api-docs`; REDOC_VERSION and REDOC_INTEGRITY are pinned in
# the Makefile (change both to upgrade; SOURCES.md says how).
set -eu
: "${REDOC_VERSION:?}" "${REDOC_INTEGRITY:?}"
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The registry's metadata must agree with the pinned integrity, and so must
# the tarball we actually got (npm pack verifies too; we check again).
registry=$(npm view "redoc@$REDOC_VERSION" dist.integrity)
if [ "$registry" != "$REDOC_INTEGRITY" ]; then
	echo "redoc@$REDOC_VERSION: registry integrity $registry, pinned $REDOC_INTEGRITY" >&2
	exit 1
fi
(cd "$tmp" && npm pack --silent "redoc@$REDOC_VERSION" >/dev/null)
tgz="$tmp/redoc-$REDOC_VERSION.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
if [ "$got" != "$REDOC_INTEGRITY" ]; then
	echo "redoc-$REDOC_VERSION.tgz: integrity $got, pinned $REDOC_INTEGRITY" >&2
	exit 1
fi
tar -xzf "$tgz" -C "$tmp" package/LICENSE package/bundles/redoc.standalone.js package/bundles/redoc.standalone.js.LICENSE.txt
cp "$tmp/package/bundles/redoc.standalone.js" "$here/assets/redoc.standalone.js"
cp "$tmp/package/bundles/redoc.standalone.js.LICENSE.txt" "$here/assets/redoc.standalone.js.LICENSE.txt"
cp "$tmp/package/LICENSE" "$here/assets/LICENSE"
printf 'redoc@%s %s\n' "$REDOC_VERSION" "$REDOC_INTEGRITY" > "$here/assets/VERSION"
echo "vendored redoc@$REDOC_VERSION into $here/assets"
