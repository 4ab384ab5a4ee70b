#!/bin/bash
# The qmail patches (src/qmail/<tree>-qmail-smtpd.patch and
# <tree>-qmail-remote.patch) without any qmail tree: which files each
# touches, the line budgets, well-formed hunks with at most 3 lines of
# context, qmail's own I/O code untouched, environment read with env_get,
# and the embedded copy of the client helper identical to
# src/client/ucspitls_client.[ch]. Runs always. (Generation from the
# source diffs, applying alone and in either order: 05-generated.t; builds
# and behaviour: make check-qmail.)
. "$(dirname "$0")/../lib.sh"

PATCHES=$(ls "$TOP"/src/qmail/*-qmail-smtpd.patch "$TOP"/src/qmail/*-qmail-remote.patch 2>/dev/null)
[ -n "$PATCHES" ] || skip_all "no src/qmail/*-qmail-*.patch"
for want in notqmail-1.09 netqmail-1.06; do
  for prog in qmail-smtpd qmail-remote; do
    ok "src/qmail/$want-$prog.patch exists" test -f "$TOP/src/qmail/$want-$prog.patch"
  done
done

# One line per file section: name plus minus hunks bad maxlead maxtrail new
stats() {
  awk '
    function flush() { if (name != "") print name, plus, minus, hunks, bad, maxlead, maxtrail, isnew }
    /^\+\+\+ / && ol == 0 && nl == 0 {
      flush(); name = $2; sub(/^b\//, "", name)
      plus = minus = hunks = bad = maxlead = maxtrail = 0; isnew = (prevold == "/dev/null" || prevnew) ; next }
    /^--- / && ol == 0 && nl == 0 { prevold = $2; prevnew = 0; next }
    /^@@ / && ol == 0 && nl == 0 {
      hunks++
      if (match($0, /^@@ -[0-9]+(,[0-9]+)? \+[0-9]+(,[0-9]+)? @@/) == 0) { bad++; next }
      h = substr($0, 4, RLENGTH - 6); split(h, p, " ")
      o = p[1]; n = p[2]; sub(/^-/, "", o); sub(/^\+/, "", n)
      if (o ~ /,/) { split(o, q, ","); ol = q[2]; if (q[1] == 0) prevnew = 1 } else ol = 1
      if (n ~ /,/) { split(n, q, ","); nl = q[2] } else nl = 1
      if (prevnew) isnew = 1
      lead = 0; trail = 0; seenchange = 0; next }
    ol > 0 || nl > 0 {
      c = substr($0, 1, 1)
      if (c == " ") { ol--; nl--; if (!seenchange) lead++; else trail++ }
      else if (c == "-") { ol--; minus++; seenchange = 1; trail = 0 }
      else if (c == "+") { nl--; plus++; seenchange = 1; trail = 0 }
      else if (c == "\\") { }
      else { bad++; ol = nl = 0 }
      if (ol < 0 || nl < 0) { bad++; ol = nl = 0 }
      if (ol == 0 && nl == 0) { if (lead > maxlead) maxlead = lead; if (trail > maxtrail) maxtrail = trail }
      next }
    END { if (ol != 0 || nl != 0) bad++; flush() }' "$1"
}

for P in $PATCHES; do
  pn=$(basename "$P")
  case $pn in
    *-qmail-smtpd.patch) prog=qmail-smtpd dir=ucspitls-smtpd
      REQUIRED="qmail-smtpd.c Makefile TARGETS $dir/ucspitls_client.c $dir/ucspitls_client.h" ;;
    *) prog=qmail-remote dir=ucspitls-remote
      REQUIRED="qmail-remote.c dns.c ipalloc.h Makefile TARGETS $dir/ucspitls_client.c $dir/ucspitls_client.h" ;;
  esac
  ALLOWED=" $REQUIRED "
  S=$(stats "$P")
  printf '%s\n' "$S" > "$W/$pn.stats"
  files=$(printf '%s\n' "$S" | awk '{print $1}' | sort | tr '\n' ' ')
  extra=
  for f in $files; do case $ALLOWED in *" $f "*) ;; *) extra="$extra $f" ;; esac; done
  is "$extra" "" "$pn: touches only$ALLOWED"
  missing=
  for f in $REQUIRED; do case " $files " in *" $f "*) ;; *) missing="$missing $f" ;; esac; done
  is "$missing" "" "$pn: touches each of $REQUIRED"
  is "$(printf '%s\n' "$S" | awk '$5 != 0 {print $1}' | tr '\n' ' ')" "" "$pn: every hunk is well formed (line counts match)"
  is "$(printf '%s\n' "$S" | awk '$8 == 0 && ($6 > 3 || $7 > 3) {print $1}' | tr '\n' ' ')" "" \
    "$pn: at most 3 lines of context around changes"
  changed() { printf '%s\n' "$S" | awk -v f="$1" '$1 == f {print $2 + $3}'; }
  if [ $prog = qmail-smtpd ]; then
    num_cmp "$(changed qmail-smtpd.c)" -le 100 "$pn: qmail-smtpd.c changes <= 100 lines ($(changed qmail-smtpd.c))"
  else
    num_cmp "$(changed qmail-remote.c)" -le 150 "$pn: qmail-remote.c changes <= 150 lines ($(changed qmail-remote.c))"
    dnsl=$(( $(changed dns.c) + $(changed ipalloc.h) ))
    num_cmp "$dnsl" -le 20 "$pn: dns.c + ipalloc.h change <= 20 lines ($dnsl)"
  fi
  mk=$(( $(changed Makefile) + $(changed TARGETS) ))
  num_cmp "$mk" -le 15 "$pn: Makefile + TARGETS change <= 15 lines ($mk)"

  # qmail's I/O code stays as it is: no removed line touches it
  io=$(awk '/^\+\+\+ b\// { f = $2 } /^-[^-]/ && f ~ /\.c$/' "$P" | grep -E 'saferead|safewrite|GEN_SAFE|timeoutread|timeoutwrite|SUBSTDIO_FDBUF|substdio_fdbuf' || true)
  is "$io" "" "$pn: no line of qmail's own read/write code removed or changed"
  if [ $prog = qmail-smtpd ]; then
    ok "$pn: qmail-smtpd switches with ucspitls_switch(0,1)" grep -q '^+.*ucspitls_switch(0,1)' "$P"
  else
    ok "$pn: qmail-remote passes its socket, then switches on smtpfd" \
      sh -c "grep -q '^+.*ucspitls_send_socket(smtpfd,' '$P' && grep -q '^+.*ucspitls_switch(smtpfd,smtpfd)' '$P'"
  fi
  is "$(sed -n '/^+++ b\/ucspitls-/q;/^+.*getenv(/p' "$P")" "" "$pn: qmail's part reads the environment with env_get"

  # the embedded helper: apply that part to an empty directory, compare
  mkdir -p "$W/$pn.helper"
  sed -n "/^diff -Nu a\/$dir\/ucspitls_client\.h b\/$dir\/ucspitls_client\.h\$/,\$p" "$P" > "$W/$pn.helper.diff"
  ok "$pn: helper files apply with patch -p1" sh -c "cd '$W/$pn.helper' && patch -p1 -s < '$W/$pn.helper.diff'"
  for f in ucspitls_client.h ucspitls_client.c; do
    if cmp -s "$W/$pn.helper/$dir/$f" "$TOP/src/client/$f"; then pass "$pn: embedded $dir/$f is src/client/$f"
    else fail "$pn: embedded $dir/$f is src/client/$f" "differs: run sh src/qmail/embed-helper (or src/qmail/mkpatches)"; fi
  done
done

# The helper must build the way old qmail trees compile (gnu89, no -D flags).
if have cc; then
  ok "ucspitls_client.c compiles as gnu89 (netqmail) without warnings" \
    cc -std=gnu89 -Wall -Werror -c -o "$W/h89.o" "$TOP/src/client/ucspitls_client.c"
  ok "ucspitls_client.c compiles with plain cc -O2 (notqmail conf-cc)" \
    cc -O2 -Wall -Werror -c -o "$W/h.o" "$TOP/src/client/ucspitls_client.c"
else
  skip_n 2 "no cc"
fi
done_testing
