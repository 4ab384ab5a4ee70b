/* tlsdproto: what tlsdserver and tlsd say to each other over tlsd's unix
   socket (fdmsg frames). No OpenSSL here.

   front end -> tlsd, once, with descriptors 0 and 1 (the network):
     mode ('i' immediate, 'd' delayed), prog's name, \0, then an
     environment block (envblock.h, with terminator) of the per-connection
     variables (tlsdproto_passed).
   tlsd -> front end, once:
     "+" or "-", then prog's environment block: prog's descriptors are
     attached (immediate: prog's read end, prog's write end, the start
     channel; delayed: SSLCTLFD's end, prog's read end, prog's write end,
     the start channel). The start channel is close-on-exec: EOF means prog
     runs; an errno on it means prog could not be executed.
   or "!", one byte (the exit code), a text (empty when tlsd logged the
     failure itself: a handshake that failed): prog never runs (immediate),
     or runs without TLS (delayed). */
#ifndef UCSPITLS_TLSDPROTO_H
#define UCSPITLS_TLSDPROTO_H

#include <stddef.h>
#include <skalibs/stralloc.h>

#define TLSDPROTO_PROGNAME_MAX 255

/* 1 when an environment entry (NAME=value or NAME) is one the front end
   passes: TCP*, PROTO, and what tcprules may set per client (TLSCIPHERS,
   TLSPROTOCOLS, SMTPS). */
extern int tlsdproto_passed(char const *entry);

/* 1 ok, 0 no memory. */
extern int tlsdproto_request(stralloc *, int delayed, char const *progname, char const *const *env);

struct tlsdproto_request {
  int delayed;
  char progname[TLSDPROTO_PROGNAME_MAX + 1];   /* for log lines only; control characters replaced */
  char *env;                                   /* entries, without terminator */
  size_t envlen;
};

/* 0 ok, -1 malformed (or not exactly two descriptors). buf is kept. */
extern int tlsdproto_parse_request(char *buf, size_t len, unsigned int nfds, struct tlsdproto_request *);

#endif
