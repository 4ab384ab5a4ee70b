#!/bin/bash
# tests/11-close.t (close orders, 64 MiB each way by SHA-256, exit statuses
# and log lines) run through tlsd and tlsdserver instead of tlsserver.
UCSPI_TLS_VIA_TLSD=1 exec bash "$(dirname "$0")/11-close.t" "$@"
