#!/bin/bash
# Build conventions a packager relies on, in a copy of the tree:
#   plain `make` builds the two programs and nothing else; CPPFLAGS and
#   LDFLAGS are honoured (dpkg-buildflags' _FORTIFY_SOURCE reaches the
#   objects: the binaries call the _chk functions); -Werror only where the
#   test and CI builds ask for it; the version (one file) is in the usage
#   line; make install / uninstall under PREFIX, a relative DESTDIR relative
#   to where make was called (make -C too); a relative PREFIX is refused.
. "$(dirname "$0")/../lib.sh"
need_cmds make cc nm
# as a packager runs it: no settings of a surrounding make (make test passes WERROR)
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES WERROR SANITIZE OPT B CFLAGS CPPFLAGS LDFLAGS

T=$W/tree
mkdir -p "$T"
( cd "$TOP" && cp -r Makefile version conf-home src package man doc README.md "$T"/ ) || bail_out "cannot copy the tree"
VERSION=$(sed -n 1p "$TOP/version")

# ---------------------------------------------------------------- plain make
run plain make -C "$T" -j2 B=b
is "$RC" 0 "plain make: builds"
is "$(cd "$T/b" && find . -maxdepth 2 -type f -perm -u+x | sort | tr '\n' ' ')" "./tlsclient ./tlsd ./tlsdserver ./tlsserver " \
  "plain make: the programs, nothing else (no fixtures, bench or fuzz tools)"
file_unlike "$W/plain.out" ' -Werror' "a packager's build does not turn warnings into errors"

# ---------------------------------------------------------------- flags
FORT="-D_FORTIFY_SOURCE=2"
run flags make -C "$T" -j2 B=bf OPT=-O2 CPPFLAGS="$FORT" LDFLAGS="-Wl,-z,relro"
is "$RC" 0 "make with CPPFLAGS and LDFLAGS: builds"
file_like "$W/flags.out" "^cc .*D_FORTIFY_SOURCE=2 .*-c -o bf/obj/src/engine/relay.o" "CPPFLAGS reach the compiler"
file_like "$W/flags.out" "^cc .*Wl,-z,relro -o bf/tlsserver" "LDFLAGS reach the linker"
like "$(nm -D "$T/bf/tlsserver" 2>/dev/null | grep -c '_chk@')" '^[1-9]' "with _FORTIFY_SOURCE the binary calls the checked (_chk) functions"
run werr make -C "$T" -j2 B=bw WERROR=-Werror
file_like "$W/werr.out" ' -Werror ' "WERROR=-Werror (what make test passes) turns warnings into errors"

# ---------------------------------------------------------------- version
run usage "$T/b/tlsserver"
like "$(cat "$W/usage.err")" "\\(ucspi-tls $VERSION\\)" "the usage line names the version from the version file ($VERSION)"
run usagec "$T/b/tlsclient"
like "$(cat "$W/usagec.err")" "\\(ucspi-tls $VERSION\\)" "tlsclient's too"

# ---------------------------------------------------------------- install, uninstall
mkdir -p "$W/calldir"
( cd "$W/calldir" && make -C "$T" B=b install DESTDIR=stage PREFIX=/opt/ucspi-tls ) > "$W/inst.out" 2>&1
is "$?" 0 "make -C tree install DESTDIR=stage PREFIX=/opt/ucspi-tls: ok"
ok "the relative DESTDIR is relative to where make was called" test -x "$W/calldir/stage/opt/ucspi-tls/bin/tlsserver"
ok "tlsclient installed" test -x "$W/calldir/stage/opt/ucspi-tls/bin/tlsclient"
ok "man pages installed" test -f "$W/calldir/stage/opt/ucspi-tls/share/man/man1/tlsserver.1"
ok "documents installed" test -f "$W/calldir/stage/opt/ucspi-tls/share/doc/ucspi-tls/reference.md"
( cd "$W/calldir" && make -C "$T" uninstall DESTDIR=stage PREFIX=/opt/ucspi-tls ) > "$W/uninst.out" 2>&1
is "$?" 0 "make uninstall: ok"
is "$(find "$W/calldir/stage" -type f | wc -l)" 0 "make uninstall removes every file install put there"
run relprefix make -C "$T" B=b install DESTDIR="$W/s2" PREFIX=opt
is "$RC" 2 "a relative PREFIX: make fails"
file_like "$W/relprefix.err" "package/install: fatal: PREFIX must be an absolute directory, not 'opt'" "and says why"
ok "nothing was installed" test ! -e "$W/s2"

done_testing
