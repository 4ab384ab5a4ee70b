#!/bin/sh
# The manual pages stay clean: `mandoc -Tlint -Wall` prints nothing for
# man/*.1, and groff (when installed) formats them without a warning under
# -ww. Skips visibly when a formatter is missing. Needs no network and no
# root, so it does not use tests/lib.sh.
top=$(cd "$(dirname "$0")/.." && pwd)
pages=$(ls "$top"/man/*.1 2>/dev/null)
if [ -z "$pages" ]; then echo "1..0 # SKIP no man/*.1 pages"; exit 0; fi
n=0; failed=0
result() { # 0|1 desc [output]
  n=$((n + 1))
  if [ "$1" = 0 ]; then echo "ok $n - $2"; else
    echo "not ok $n - $2"; failed=$((failed + 1))
    printf '%s\n' "$3" | head -n 30 | sed 's/^/# /'
  fi
}
if command -v mandoc >/dev/null 2>&1; then
  for p in $pages; do
    out=$(LC_ALL=C mandoc -Tlint -Wall "$p" 2>&1)
    [ -z "$out" ]; result $? "mandoc -Tlint -Wall $(basename "$p"): no output" "$out"
  done
else
  for p in $pages; do n=$((n + 1)); echo "ok $n # SKIP mandoc not installed (apt-get install mandoc): $(basename "$p") not linted"; done
fi
if command -v groff >/dev/null 2>&1; then
  for p in $pages; do
    out=$(LC_ALL=C groff -man -ww -Tutf8 "$p" 2>&1 >/dev/null)
    [ -z "$out" ]; result $? "groff -man -ww $(basename "$p"): no warning" "$out"
  done
else
  for p in $pages; do n=$((n + 1)); echo "ok $n # SKIP groff not installed: $(basename "$p") not checked"; done
fi
echo "1..$n"
[ $failed -gt 254 ] && failed=254
exit $failed
