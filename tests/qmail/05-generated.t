#!/bin/bash
# The per-program qmail patches against the pristine tree make check-qmail
# is testing (QMAIL_PRISTINE, patches QMAIL_PATCHES-qmail-smtpd.patch and
# -qmail-remote.patch): each applies alone and both apply in either order, to
# the same result; each alone builds its program; the qmail-remote half adds
# no warning to its own functions under -Wall -Wextra. For a release archive
# (QMAIL_ARCHIVE), the two patches are what src/qmail/mkpatches generates
# from the one source (src/qmail/qmail-smtpd.diff, qmail-remote.diff, the
# helper), so the variants of the trees cannot drift.
. "$(dirname "$0")/../lib.sh"
need_cmds patch make cc tar
[ -n "${QMAIL_PRISTINE:-}" ] && [ -n "${QMAIL_PATCHES:-}" ] || skip_all "QMAIL_PRISTINE/QMAIL_PATCHES not set (make check-qmail sets them)"
t=$QMAIL_PATCHES
if [ -n "${QMAIL_ARCHIVE:-}" ]; then
  ok "src/qmail/mkpatches runs" sh "$TOP/src/qmail/mkpatches" -o "$W/gen" "$QMAIL_ARCHIVE"
  for prog in qmail-smtpd qmail-remote; do
    ok "$t-$prog.patch is what mkpatches generates (run sh src/qmail/mkpatches)" \
      cmp "$W/gen/$t-$prog.patch" "$TOP/src/qmail/$t-$prog.patch"
  done
fi

apply() { # DIR PATCH...: patch -p1 as doc/qmail.md says, nothing rejected
  local d=$1 p; shift
  for p in "$@"; do
    (cd "$d" && patch -p1 --no-backup-if-mismatch < "$TOP/src/qmail/$p") || return 1
  done
  [ -z "$(find "$d" -name '*.rej' -o -name '*.orig')" ]
}
# the functions the qmail-remote half adds
NEWFUNCS='exists|hostfile|tlspolicy|refusal|tlsfail|tlserr|tls|offered|helo'

src=$QMAIL_PRISTINE
S=$t-qmail-smtpd.patch R=$t-qmail-remote.patch
for c in smtpd remote both rboth; do cp -a "$src" "$W/$c"; done
ok "$S applies alone" apply "$W/smtpd" "$S"
ok "$R applies alone" apply "$W/remote" "$R"
ok "$S then $R" apply "$W/both" "$S" "$R"
ok "$R then $S" apply "$W/rboth" "$R" "$S"
ok "both orders give the same tree" diff -r "$W/both" "$W/rboth"
for c in smtpd remote; do cp "$QMAIL_CONF_CC" "$W/$c/conf-cc"; done
ok "qmail-smtpd builds with only $S" make -j2 -C "$W/smtpd" qmail-smtpd
ok "qmail-remote builds with only $R" make -j2 -C "$W/remote" qmail-remote
cc=$(head -n 1 "$W/remote/conf-cc")
(cd "$W/remote" && $cc -Wall -Wextra -c -o "$W/qr.o" qmail-remote.c) > "$W/warn" 2>&1
is "$(grep -E "In function ‘($NEWFUNCS)’" "$W/warn")" "" \
  "no -Wall -Wextra warning in the functions the qmail-remote half adds"
done_testing
