#!/bin/bash
# Short bounded run of the libFuzzer harnesses (fuzz/fuzz_*.c): each harness
# is built with clang (-fsanitize=fuzzer,address,undefined) into this test's
# work directory and run for FUZZ_TEST_SECONDS (default 5) seconds over its
# seed corpus (tests/fuzz-corpus/<harness>/) and what it finds. A harness
# checks properties (round trips, agreement with reference parsers, bounded
# NUL-terminated output), so "ok" means no property failed and no sanitizer
# report. Engine rules a harness checks without stopping fail the test too.
# The long run is `make fuzz` (doc/fuzzing.md).
. "$(dirname "$0")/../lib.sh"
command -v clang >/dev/null 2>&1 || skip_all "clang not installed (package/deps installs it): fuzz harnesses not run"
have pkg-config || skip_all "pkg-config not installed"

FB=$W/build-fuzz
secs=${FUZZ_TEST_SECONDS:-5}
HARNESSES="ctlmsg envblock client_reply cert_email options_env pemsplit"

# The run itself is bounded: 6 harnesses x secs, plus building; never more
# than a generous wall-clock limit.
limit=$(( 6 * (secs + 20) + 120 ))
FUZZ_BUILD=$FB FUZZ_SECONDS=$secs FUZZ_STRICT=0 ASAN_OPTIONS='' UBSAN_OPTIONS='' \
  timeout -k 5 "$limit" sh "$TOP/fuzz/run" >"$W/fuzz.out" 2>"$W/fuzz.err"
rc=$?
if [ $rc = 77 ]; then
  skip_all "clang cannot build libFuzzer targets here: $(head -n 3 "$W/fuzz.err" | tr '\n' ' ')"
fi
if [ $rc = 124 ] || [ $rc = 137 ]; then
  fail "fuzz/run finished within $limit s" "fuzz/run timed out"
  diag_file "$W/fuzz.err"
fi

for h in $HARNESSES; do
  line=$(grep -E "^$h +" "$W/fuzz.out" | head -n 1)
  if [ -z "$line" ]; then
    fail "$h: harness built and ran" "no result line for $h"
    diag_file "$W/fuzz.err" 30
    continue
  fi
  if [[ "$line" == *build-failed* ]]; then
    fail "$h: harness builds warning-free (-Wall -Wextra -Werror)"
    diag_file "$FB/fuzz_$h.build.log" 30
    continue
  fi
  pass "$h: harness builds warning-free (-Wall -Wextra -Werror)"
  execs=$(sed -n 's/.* execs=\([0-9]*\).*/\1/p' <<<"$line")
  if [[ "$line" == *" ok "* ]]; then
    pass "$h: ${secs}s of fuzzing, every property held, no sanitizer report (${execs:-?} executions)"
  else
    fail "$h: ${secs}s of fuzzing, every property held, no sanitizer report" "$line"
    grep -a -E -A25 'property failed|ERROR: [A-Za-z]+Sanitizer|runtime error|deadly signal' "$FB/fuzz_$h.log" \
      | head -n 40 | sed 's/^/#   /'
    find "$FB/crash/$h" -type f 2>/dev/null | sed "s/^/#   reproducer: /"
  fi
  num_cmp "${execs:-0}" -ge 100 "$h: ran at least 100 inputs"
done

# Engine rules a harness checks without stopping: a "KNOWN BUG" line in
# its log fails the test (doc/fuzzing.md).
harness_rule() { # harness description
  local h=$1 d=$2
  if grep -aq 'KNOWN BUG' "$FB/fuzz_$h.log" 2>/dev/null; then
    fail "$d" "$(grep -a -m1 'KNOWN BUG' "$FB/fuzz_$h.log")"
  else
    pass "$d"
  fi
}
harness_rule options_env "options_env: -K/-T values above INT_MAX ms are refused (the engine keeps deadlines in an int)"

done_testing
