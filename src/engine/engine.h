/* engine: the one place TLS I/O happens. One engine per connection: it
   forks the process that becomes prog, loads keys, handshakes (at once, or
   when prog asks over the UCSPI-TLS control socket), relays plaintext,
   applies the close rules and deadlines, logs one summary line, exits.

   A connection, start to end: tlsserver.c main -> engine_main (engine.c),
   which decides the mode once and runs one of three scripts:
   run_immediate, run_delayed, run_late_socket. Their steps live in parts
   that own their data: prog.c (prog's process), appchan.c (prog's
   plaintext channel), tlsctx.c (the TLS configuration), privsep.c,
   handshake.c, control.c (the UCSPI-TLS command), relay.c, summary.c (the
   session's record and log lines). */
#ifndef UCSPITLS_ENGINE_H
#define UCSPITLS_ENGINE_H

#include <skalibs/gccattributes.h>
#include "tlsconf.h"
#include "tlsctx.h"
#include "reason.h"

/* tlsclient -n with no network on 6/7: prog connects by itself and passes
   the socket over SSLCTLFD (the late socket). */
extern int engine_late_socket(struct tlsconf const *);

/* Run one connection. preloaded: the listener's configuration (tlsserver
   -L), NULL in chained mode, where the configuration is loaded here, after
   prog's process is forked. refusal: a setting refused before the engine
   ran (options, environment); only the late socket takes one, and reports
   it to prog instead of refusing to run it. */
extern void engine_main(struct tlsconf const *, char const *const *argv, struct tlsctx const *preloaded,
                        struct reason const *refusal) gccattr_noreturn;

/* listen.c: tlsserver -L: accept on ip:port, fork one engine per
   connection. options_only holds what the command line set (per-client
   TLSCIPHERS / TLSPROTOCOLS from the rules apply where it set nothing). */
extern void engine_listen(struct tlsconf const *conf, struct tlsconf const *options_only,
                          char const *ip, char const *port, unsigned int maxconn,
                          char const *rules, char const *const *argv) gccattr_noreturn;

/* For the long-lived key holders (tlsserver -L, tlsd): SIGCHLD, SIGHUP,
   SIGTERM, SIGINT through the selfpipe (its descriptor is returned),
   SIGPIPE ignored, the process non-dumpable. Dies (111) on failure. */
extern int engine_keyholder_signals(void);

/* SIGHUP: load the configuration again; new connections get it, running
   ones keep theirs, and what fails to load leaves *current as it was. One
   line either way: "info: reload done subject=... notafter=..." or
   "warning: reload failed keep=previous reason=...". */
extern void engine_reload(struct tlsconf const *, struct tlsctx *current);

#endif
