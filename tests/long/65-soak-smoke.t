#!/bin/bash
# Smoke version of the soak test (tests/soak/run, `make soak`): 300
# sequential + 50 concurrent well-behaved sessions through tcpserver and
# tlsserver in immediate and delayed (-n) mode, and through tlsserver -L
# (reloaded by SIGHUP every 100 sessions), with misbehaving clients mixed
# in (stall in the handshake, garbage, drop in the ClientHello, drop in the
# middle of a record, never read then reset, never read nor close). Each
# check of tests/soak/soak.py becomes one TAP line: data intact, every
# misbehaving client cut off, every session logged with its reason and the
# right exit status, no leftover process, no zombie, no descriptor growth in
# the long-lived process (tcpserver, or the -L listener). About 30 s on 2 cores.
. "$(dirname "$0")/../lib.sh"
need_bins tlsserver
need_cmds tcpserver cc
[ -x "$PY" ] || skip_all "$PY not installed"
pki_setup

cc -std=c99 -D_GNU_SOURCE -O2 -o "$W/soakprog" "$TESTDIR/soak/soakprog.c" 2>"$W/cc.err" \
  || { diag_file "$W/cc.err"; bail_out "soakprog does not compile"; }
cp "$TLSSERVER" "$W/tlsserver" || bail_out "cannot copy $TLSSERVER"   # immune to a rebuild during the run

# Under the sanitizers the engine is several times slower and larger.
rss=32 seq=300 conc=50 growth=1024
[ "$SANITIZED" = 1 ] && { rss=400 seq=100 conc=30 growth=65536; }
timeout -k 5 55 "$PY" "$TESTDIR/soak/soak.py" --tlsserver "$W/tlsserver" --prog "$W/soakprog" \
  --pki "$PKI" --workdir "$W" --port 4650 --seq "${SOAK_SMOKE_SEQ:-$seq}" --conc "${SOAK_SMOKE_CONC:-$conc}" \
  --bad 18 --bad-interval 0.15 --hs-ms 4000 --idle-ms 2000 --max-engine-rss-mb "$rss" --max-rss-growth-kb "$growth" \
  --modes immediate,delayed,listen --hup-every 100 \
  --json "$W/soak.json" > "$W/soak.out" 2>&1
rc=$?
[ -s "$W/soak.json" ] || { diag_file "$W/soak.out"; bail_out "soak.py gave no result (exit $rc)"; }

while IFS=$'\t' read -r okay desc detail; do
  if [ "$okay" = 1 ]; then pass "$desc"; else fail "$desc" "$detail"; fi
done < <("$PY" -c '
import json, sys
for d, ok, detail in json.load(open(sys.argv[1]))["checks"]:
    print("1" if ok else "0", d.replace("\t", " "), json.dumps(detail, default=str)[:1500], sep="\t")
' "$W/soak.json")
[ $rc = 0 ] || diag_file "$W/soak.out" 60
# the summary as comments, for the record
sed -n '/^== /,/^== checks/p' "$W/soak.out" | grep -v '^== checks' | sed 's/^/# /'

done_testing
