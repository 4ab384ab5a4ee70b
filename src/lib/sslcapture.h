/* sslcapture: the OpenSSL objects a libtls call creates. libtls keeps its
   SSL_CTX and SSL to itself, but OpenSSL runs an ex_data "new" hook for
   every object it creates: recording those made during one libtls call
   gives their addresses without touching libtls's internals. Capture only
   around the call that matters: libtls also makes throw-away contexts
   (to check a cipher list, for instance). */
#ifndef UCSPITLS_SSLCAPTURE_H
#define UCSPITLS_SSLCAPTURE_H

#include <openssl/ssl.h>
#include <skalibs/genalloc.h>

struct sslcapture {
  genalloc ctxs;   /* SSL_CTX *: contexts created and still alive */
  SSL *ssl;        /* the last SSL created, or NULL */
  int lost;        /* out of memory while recording: the list is incomplete */
};
#define SSLCAPTURE_ZERO { .ctxs = GENALLOC_ZERO, .ssl = 0, .lost = 0 }

/* Start recording into *c (one capture at a time). 0 on failure. */
extern int sslcapture_begin(struct sslcapture *c);
/* Stop recording. */
extern void sslcapture_end(void);
extern unsigned int sslcapture_nctx(struct sslcapture const *c);
extern SSL_CTX *sslcapture_ctx(struct sslcapture const *c, unsigned int i);
extern void sslcapture_free(struct sslcapture *c);

#endif
