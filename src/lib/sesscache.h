/* sesscache: tlsclient's sessions, kept across processes in a directory so
   that the next connection to the same server resumes. One entry per
   server name, port and trust settings; written (atomically, by rename)
   when the server sends a session, which in TLS 1.3 is after the
   handshake, when its tickets arrive. The directory must be owned by the
   engine's uid and closed to everybody else (mode 700): a session holds
   the secret of a connection, and a planted one would let whoever made it
   impersonate the server. Otherwise it is never read nor written. */
#ifndef UCSPITLS_SESSCACHE_H
#define UCSPITLS_SESSCACHE_H

#include <tls.h>

struct sesscache_args {
  char const *dir;          /* NULL: no cache, a plain connect */
  char const *servername;   /* the name verified (NULL: the peer's address) */
  char const *trust;        /* the verification settings: sessions made under others are not offered */
  unsigned int lifetime;    /* seconds an entry is offered at most */
  int netfd;                /* the network socket (its peer's port names the entry) */
};

/* tls_connect_cbs, offering the cached session when there is a valid one
   and keeping the server's sessions. A cache that cannot be used costs
   one warning line on stderr and leaves the connection as it would be
   without a cache. The session also refuses a server's TLS 1.2
   renegotiation. Returns tls_connect_cbs's value; -1: *why says why. */
extern int sesscache_connect(struct tls *ctx, tls_read_cb readcb, tls_write_cb writecb, void *cbarg,
                             struct sesscache_args const *a, char const **why);

#endif
