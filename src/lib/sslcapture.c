#include <openssl/ssl.h>
#include <skalibs/genalloc.h>
#include "sslcapture.h"

static struct sslcapture *active;
static int ctx_index = -1, ssl_index = -1;

static void ctx_new(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
  SSL_CTX *c = parent;
  if (active && !genalloc_append(SSL_CTX *, &active->ctxs, &c)) active->lost = 1;
}

/* A context libtls frees inside the call (a configuration replaced) must
   not stay on the list. */
static void ctx_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
  unsigned int i, n;
  SSL_CTX **v;
  if (!active) return;
  n = genalloc_len(SSL_CTX *, &active->ctxs);
  v = genalloc_s(SSL_CTX *, &active->ctxs);
  for (i = 0; i < n; i++) if (v[i] == parent) {
    v[i] = v[n - 1];
    genalloc_setlen(SSL_CTX *, &active->ctxs, n - 1);
    return;
  }
}

static void ssl_new(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
  if (active) active->ssl = parent;
}

static void ssl_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
  if (active && active->ssl == parent) active->ssl = 0;
}

int sslcapture_begin(struct sslcapture *c)
{
  if (ctx_index < 0) ctx_index = SSL_CTX_get_ex_new_index(0, 0, &ctx_new, 0, &ctx_free);
  if (ssl_index < 0) ssl_index = SSL_get_ex_new_index(0, 0, &ssl_new, 0, &ssl_free);
  if (ctx_index < 0 || ssl_index < 0) return 0;
  genalloc_setlen(SSL_CTX *, &c->ctxs, 0);
  c->ssl = 0;
  c->lost = 0;
  active = c;
  return 1;
}

void sslcapture_end(void) { active = 0; }

unsigned int sslcapture_nctx(struct sslcapture const *c) { return genalloc_len(SSL_CTX *, &c->ctxs); }

SSL_CTX *sslcapture_ctx(struct sslcapture const *c, unsigned int i) { return genalloc_s(SSL_CTX *, &c->ctxs)[i]; }

void sslcapture_free(struct sslcapture *c)
{
  if (active == c) active = 0;
  genalloc_free(SSL_CTX *, &c->ctxs);
  c->ssl = 0;
}
