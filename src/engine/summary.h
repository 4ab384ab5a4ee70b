/* summary: the record of one session, and the lines the engine logs from
   it. Every session ends with exactly one "done" line, whatever happened
   (doc/reference.md, "Log lines", lists every field and close= value). */
#ifndef UCSPITLS_SUMMARY_H
#define UCSPITLS_SUMMARY_H

#include <sys/types.h>
#include <skalibs/stralloc.h>
#include <skalibs/tai.h>
#include "tlsconf.h"
#include "reason.h"

/* How a session ended: the log's close= field. */
enum close_kind {
  CLOSE_NONE = 0,            /* still running */
  CLOSE_CLEAN,               /* close_notify received from the peer */
  CLOSE_UNCLEAN,             /* TCP FIN without close_notify */
  CLOSE_IDLE,                /* idle deadline */
  CLOSE_ERROR,               /* TLS or I/O error after the handshake */
  CLOSE_DECLINED,            /* delayed mode: prog asked for no TLS */
  CLOSE_HANDSHAKE,           /* the handshake failed */
  CLOSE_HANDSHAKE_TIMEOUT,   /* the handshake deadline passed */
  CLOSE_CONFIG,              /* the configuration was refused: no TLS */
  CLOSE_NOTLS,               /* delayed mode: configuration refused, prog ran without TLS */
  CLOSE_EXEC,                /* prog could not be executed */
  CLOSE_PROTOCOL,            /* UCSPI-TLS control protocol error */
  CLOSE_SYSTEM               /* temporary system failure */
};

struct summary {
  tain start;
  pid_t pid;
  char peer[80], local[80];  /* ip:port, IPv6 bracketed; "-" unknown */
  enum close_kind close;
  struct reason why;         /* reason= when something failed */
  unsigned long long bytes_in, bytes_out;   /* plaintext from / to the peer */
  stralloc sslenv;           /* the session's SSL_* block (without terminator) */
};

/* Start the record: time, pid, the addresses tcpserver / tcpclient set. */
extern void summary_begin(struct summary *);
/* The addresses of a socket that arrived later (tlsclient's late socket). */
extern void summary_addresses(struct summary *, int fd);
/* Set close= and reason= (reason may be NULL). */
extern void summary_end(struct summary *, enum close_kind, struct reason const *);

/* The done line (verbosity >= 1). status: the engine's exit status;
   prog_wstat: prog's wait status, or -1 when prog has not exited. */
extern void summary_log(struct summary const *, struct tlsconf const *, int status, int prog_wstat);
/* One fatal: or warning: line for a failure: "PROG: LEVEL: WHAT: peer=... reason=...". */
extern void summary_log_failure(struct summary const *, char const *level, char const *what);
/* -v 2: one line per step of a session. */
extern void summary_log_debug(struct summary const *, struct tlsconf const *, char const *what, char const *detail);

#endif
