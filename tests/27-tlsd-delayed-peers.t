#!/bin/bash
# tests/50-delayed-peers.t (STARTTLS with swaks, openssl s_client,
# gnutls-cli, Python smtplib; forged SSL_* variables never reach prog) run
# through tlsd and tlsdserver -n instead of tlsserver -n.
UCSPI_TLS_VIA_TLSD=1 exec bash "$(dirname "$0")/50-delayed-peers.t" "$@"
