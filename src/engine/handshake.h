/* handshake: one TLS handshake on the network, non-blocking in the poll
   loop, under a deadline. */
#ifndef UCSPITLS_HANDSHAKE_H
#define UCSPITLS_HANDSHAKE_H

#include <tls.h>
#include <skalibs/tai.h>
#include "netio.h"
#include "reason.h"
#include "sesscache.h"

/* Server: accept on ctx, *tls gets the session. Client: connect ctx itself
   (cache->servername: SNI and the verified name), offering a cached
   session and keeping the server's (src/lib/sesscache.h; cache->dir NULL:
   no cache). 0 done; else -1 and r (code 97, 98 for the deadline, 111 for
   a system failure). */
extern int handshake_server(struct tls *ctx, struct tls **tls, struct netio *, tain const *deadline, struct reason *r);
extern int handshake_client(struct tls *ctx, struct sesscache_args const *cache, struct netio *, tain const *deadline, struct reason *r);

/* Why a session failed: a system error seen on the network wins over
   libtls's wording of it. */
extern void handshake_reason(struct reason *r, int code, struct netio const *, char const *tlserr);

#endif
