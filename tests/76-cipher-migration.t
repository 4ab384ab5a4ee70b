#!/bin/bash
# package/ciphers-from-control: a qmail-tls control/tlsserverciphers with
# comment lines, blank lines and trailing blanks becomes one TLSCIPHERS value
# (as qmail's control_readfile read the file), checked by tlsserver itself;
# then a real tlsserver run from an envdir holding that value serves
# openssl s_client with exactly those ciphers. The old one-liner
# (tr '\n' ':') keeps the comment lines, and tlsserver refuses the result:
# that is what the script prevents. A refused file never replaces the
# output (-o), and without any tlsserver openssl checks the syntax.
. "$(dirname "$0")/lib.sh"
need_bins tlsserver
need_cmds tcpserver envdir openssl
pki_setup
CONV=$TOP/package/ciphers-from-control
CHACHA=ECDHE-ECDSA-CHACHA20-POLY1305
AES128=ECDHE-ECDSA-AES128-GCM-SHA256
AES256=ECDHE-ECDSA-AES256-GCM-SHA384

printf '# control/tlsserverciphers (qmail-tls)\n# one entry per line\n%s\n\n   \n# then\n%s \t\n' "$CHACHA" "$AES128" > "$W/tlsserverciphers"

# -- the old conversion keeps the comments: tlsserver refuses it
old=$(tr '\n' ':' < "$W/tlsserverciphers" | sed 's/:$//')
run oldconv "$TLSSERVER" -C "$old" -c "$PKI/server.pem" -k "$PKI/server.key" true
is "$RC" 96 "before: the tr '\\n' ':' result is refused by tlsserver (exit 96)"
file_like "$W/oldconv.err" '^tlsserver: fatal: invalid cipher list: # control/tlsserverciphers' "before: the refusal names the comment line"

# -- the script
mkdir -p "$W/env"
run conv env TLSSERVER="$TLSSERVER" sh "$CONV" -o "$W/env/TLSCIPHERS" -c "$PKI/server.pem" -k "$PKI/server.key" "$W/tlsserverciphers"
is "$RC" 0 "conversion: exit 0"
is "$(cat "$W/env/TLSCIPHERS")" "$CHACHA:$AES128" "conversion: comments, blank lines and trailing blanks skipped, entries joined with ':'"
file_like "$W/conv.err" '^ciphers-from-control: 2 entries from .*tlsserverciphers \(5 comment or blank lines skipped\); .*tlsserver accepts them' \
  "conversion: one line says how many entries and who accepted them"
file_like "$W/conv.err" '^ciphers-from-control: wrote .*/env/TLSCIPHERS$' "conversion: the output file is named"

# -- a real tlsserver with the converted value, from the envdir, as the run scripts do
serve conv 4471 envdir "$W/env" "$TLSSERVER" -p tlsv1.2 -c "$PKI/server.pem" -k "$PKI/server.key" "$FIX/reply.sh" \
  || bail_out "tcpserver did not start"
sclient_info sc1 4471 -CAfile "$PKI/ca.pem" -tls1_2 -cipher "$AES128"
is "$(sclient_cipher sc1)" "$AES128" "s_client offering only the second entry gets it"
sclient_info sc2 4471 -CAfile "$PKI/ca.pem" -tls1_2 -cipher "$CHACHA:$AES128:$AES256"
is "$(sclient_cipher sc2)" "$CHACHA" "s_client offering several gets the first entry (server order)"
sclient_info sc3 4471 -CAfile "$PKI/ca.pem" -tls1_2 -cipher "$AES256"
isnt "$RC" 0 "s_client offering only a cipher not in the file is refused"
is "$(sclient_cipher sc3)" "(NONE)" "no cipher negotiated outside the file's list"

# -- a file the engine refuses: exit 100, the reason, the output file untouched
printf '# bad\nECDHE-ECDSA-NO-SUCH-CIPHER\n' > "$W/bad"
run bad env TLSSERVER="$TLSSERVER" sh "$CONV" -o "$W/env/TLSCIPHERS" "$W/bad"
is "$RC" 100 "refused value: exit 100"
file_like "$W/bad.err" '^ciphers-from-control:   tlsserver: fatal: invalid cipher list: ECDHE-ECDSA-NO-SUCH-CIPHER$' "refused value: the engine's own line"
file_like "$W/bad.err" 'env/TLSCIPHERS left as it was$' "refused value: says the output was left alone"
is "$(cat "$W/env/TLSCIPHERS")" "$CHACHA:$AES128" "refused value: the working TLSCIPHERS is unchanged"

# '#' after leading blanks is no comment for qmail: kept, and refused
printf '%s\n  # indented\n' "$AES128" > "$W/indented"
run ind env TLSSERVER="$TLSSERVER" sh "$CONV" "$W/indented"
is "$RC" 100 "an indented '#' line is kept (as control_readfile keeps it) and refused"

# comments only: empty output (envdir then unsets TLSCIPHERS), exit 0
printf '# nothing here\n\n' > "$W/empty"
run empty env TLSSERVER="$TLSSERVER" sh "$CONV" "$W/empty"
is "$RC:$(cat "$W/empty.out")" "0:" "comments only: exit 0, empty output"
file_like "$W/empty.err" 'no cipher entries.*the default applies' "comments only: says the default applies"

# a last line without newline still counts (qmail reads it too)
printf '%s\n%s' "$CHACHA" "$AES128" > "$W/nonl"
run nonl env TLSSERVER="$TLSSERVER" sh "$CONV" "$W/nonl"
is "$(cat "$W/nonl.out")" "$CHACHA:$AES128" "last line without a newline is kept"

# -- no tlsserver anywhere: openssl ciphers -s checks the syntax
mkdir -p "$W/alone"; cp "$CONV" "$W/alone/"
run alone env -u TLSSERVER PATH=/usr/bin:/bin sh "$W/alone/ciphers-from-control" "$W/tlsserverciphers"
is "$RC:$(cat "$W/alone.out")" "0:$CHACHA:$AES128" "without tlsserver: converted, exit 0"
file_like "$W/alone.err" 'openssl ciphers -s accepts them \(syntax only\)' "without tlsserver: says openssl checked the syntax only"
run alonebad env -u TLSSERVER PATH=/usr/bin:/bin sh "$W/alone/ciphers-from-control" "$W/bad"
is "$RC" 100 "without tlsserver: a bad entry is still refused"

# -- usage
run usage sh "$CONV"
is "$RC" 100 "no file: usage, exit 100"

done_testing
