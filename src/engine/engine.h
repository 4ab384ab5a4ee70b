/* engine: the one place TLS I/O happens. One engine per connection: it
   forks the application, loads keys, handshakes (at once, or when the
   application asks over the UCSPI-TLS control socket), relays plaintext,
   applies the close rules and deadlines, logs one line, exits.
   A connection, start to end: tlsserver.c main -> engine_main (engine.c)
   -> engine_handshake (handshake.c) -> engine_relay (relay.c). */
#ifndef UCSPITLS_ENGINE_H
#define UCSPITLS_ENGINE_H

#include <sys/types.h>
#include <tls.h>
#include <openssl/x509_vfy.h>
#include <skalibs/tai.h>
#include <skalibs/stralloc.h>
#include "tlsconf.h"
#include "netio.h"
#include "ctlmsg.h"


/* How a session ended: the log's close= field and the exit code. */
enum close_kind {
  CLOSE_NONE = 0,    /* still running */
  CLOSE_CLEAN,       /* close_notify received from the peer */
  CLOSE_UNCLEAN,     /* TCP FIN without close_notify */
  CLOSE_IDLE,        /* idle deadline */
  CLOSE_ERROR,       /* TLS or I/O error after the handshake */
  CLOSE_DECLINED     /* delayed mode: no TLS asked for */
};

#define EXIT_UNCLEAN 2
#define EXIT_IDLE 3
#define EXIT_IOERROR 4
#define EXIT_CONFIG 96
#define EXIT_HANDSHAKE 97
#define EXIT_HANDSHAKE_TIMEOUT 98
#define EXIT_PROTOCOL 99
#define EXIT_USAGE 100
#define EXIT_TEMP 111

struct engine {
  struct tlsconf const *conf;
  struct netio net;
  int net_present;           /* network descriptors given (tlsclient late socket: not yet) */
  int late_socket;           /* tlsclient -n without fds 6/7 */
  int app_rfd, app_wfd;      /* engine's ends: read what prog writes, write what prog reads */
  int ctl;                   /* engine's end of SSLCTLFD, or -1 */
  int start_fd;              /* pipe to the waiting child: the start message */
  int sigfd;                 /* selfpipe: SIGCHLD */
  pid_t child;
  int child_status;          /* wait status once reaped */
  int child_reaped;
  struct tls_config *cfg;
  struct tls *ctx;           /* tlsserver: configured server context; tlsclient: client context */
  struct tls *tls;           /* the session */
  X509_STORE *report;        /* store for SSL_*_VERIFY when libtls does not verify */
  struct ctlmsg_socket late; /* late-socket parameters */
  int libtls_verified;
  tain start;
  unsigned long long bytes_in, bytes_out;   /* plaintext from / to the peer */
  enum close_kind close;
  char failure[256];         /* why the handshake or the session failed ("" if it did not) */
  stralloc sslenv;           /* the session's SSL_* block (without terminator) */
};

/* Configuration loaded once by a listener (tlsserver -L) and shared by
   every connection it forks. */
struct engine_prebuilt {
  struct tls_config *cfg;
  struct tls *ctx;
  X509_STORE *report;
};

/* Run one connection. prebuilt is NULL in chained mode: the configuration
   is then loaded here, after prog's child is forked. */
extern void engine_main(struct tlsconf const *, char const *const *argv, struct engine_prebuilt const *prebuilt) gccattr_noreturn;

/* listen.c: tlsserver -L: accept on ip:port, fork one engine per
   connection. options_only holds what the command line set (per-client
   TLSCIPHERS / TLSPROTOCOLS from the rules apply where it set nothing). */
extern void engine_listen(struct tlsconf const *conf, struct tlsconf const *options_only,
                          char const *ip, char const *port, unsigned int maxconn,
                          char const *rules, char const *const *argv) gccattr_noreturn;

/* handshake.c: 0 done, else an exit code (97, 98); e->failure says why. */
extern int engine_handshake(struct engine *);
/* relay.c: relay until both directions are closed or a deadline fires. */
extern void engine_relay(struct engine *);
/* control.c: delayed mode. Returns 1 when a handshake was asked for
   (*reply = 1 for 'Y'), 0 when the program declined; exits on a protocol error. */
extern int engine_wait_command(struct engine *, int *reply);
/* engine.c helpers shared by the parts */
extern void engine_reap(struct engine *);
extern void engine_log_failure(struct engine *, char const *what);
/* Record why something failed; a system error seen on the network wins
   over libtls's wording of it. */
extern void engine_set_failure(struct engine *, char const *why);

#endif
