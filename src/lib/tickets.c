#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/types.h>
#include "sslcapture.h"
#include "tickets.h"

/* What a ticket is sealed with, all derived from the 48 bytes of a line:
   so every host holding the file agrees, and the line itself never leaves
   this file. */
struct ticket_key {
  unsigned char name[16];   /* sent in clear in every ticket */
  unsigned char aes[32];
  unsigned char hmac[32];
};

struct tickets {
  unsigned int refs;        /* the caller's, plus one per OpenSSL context */
  unsigned int n, nalloc;
  unsigned int lifetime;
  unsigned char sid[32];    /* session-id context */
  struct ticket_key *keys;  /* oldest first: keys[n - 1] encrypts */
};

int tickets_lifetime(char const *s, unsigned int *secs)
{
  unsigned int u;
  size_t len;
  if (!s || !*s) { *secs = TICKETS_LIFETIME_DEFAULT; return 0; }
  len = uint_scan(s, &u);
  if (!len || s[len] || !u || u > TICKETS_LIFETIME_MAX) return -1;
  *secs = u;
  return 0;
}

/* SHA-256 of a label (with its NUL: labels never run into data) and data. */
static int labelled_hash(unsigned char out[32], char const *label, void const *a, size_t alen, void const *b, size_t blen)
{
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  unsigned int olen = 32;
  int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), 0)
    && EVP_DigestUpdate(md, label, strlen(label) + 1)
    && EVP_DigestUpdate(md, a, alen)
    && (!blen || EVP_DigestUpdate(md, b, blen))
    && EVP_DigestFinal_ex(md, out, &olen);
  EVP_MD_CTX_free(md);
  return ok;
}

static int hexval(char ch)
{
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

static void wipe_free(void *p, size_t len)
{
  if (!p) return;
  explicit_bzero(p, len);
  free(p);
}

static void tickets_destroy(struct tickets *t)
{
  wipe_free(t->keys, t->nalloc * sizeof *t->keys);
  wipe_free(t, sizeof *t);
}

void tickets_release(struct tickets *t)
{
  if (t && !--t->refs) tickets_destroy(t);
}

unsigned int tickets_count(struct tickets const *t) { return t ? t->n : 0; }

/* One line of 96 hex digits into a key. 0 ok, -1 malformed. */
static int parse_key(struct ticket_key *k, char const *line, size_t len)
{
  unsigned char raw[48], h[32];
  unsigned int i;
  int ok = 1;
  if (len != 96) return -1;
  for (i = 0; i < 48; i++) {
    int hi = hexval(line[2 * i]), lo = hexval(line[2 * i + 1]);
    if (hi < 0 || lo < 0) { ok = 0; break; }
    raw[i] = (unsigned char)(hi << 4 | lo);
  }
  if (ok) ok = labelled_hash(h, "ucspi-tls ticket key name", raw, sizeof raw, 0, 0)
            && labelled_hash(k->aes, "ucspi-tls ticket aes-256-cbc key", raw, sizeof raw, 0, 0)
            && labelled_hash(k->hmac, "ucspi-tls ticket hmac-sha256 key", raw, sizeof raw, 0, 0);
  if (ok) memcpy(k->name, h, sizeof k->name);
  explicit_bzero(raw, sizeof raw);
  return ok ? 0 : -1;
}

static char linemsg[80];

struct tickets *tickets_load(char const *file, unsigned int lifetime, char const *scope, char const **why)
{
  struct tickets *t = 0;
  struct stat st;
  char *text = 0;
  size_t size = 0, len = 0, pos, lineno = 0;
  int fd;
  /* O_NONBLOCK: a FIFO put in the file's place must not hang the engine
     (and is refused below). */
  fd = open(file, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) { *why = "unable to open"; return 0; }
  if (fstat(fd, &st) < 0) { *why = "unable to stat"; goto err; }
  if (!S_ISREG(st.st_mode)) { *why = "not a regular file"; errno = 0; goto err; }
  if (st.st_size > TICKETS_FILE_MAX) { *why = "larger than 64 KiB"; errno = 0; goto err; }
  /* One buffer of the final size, never grown: a reallocation would leave
     a copy of the keys behind. */
  size = (size_t)st.st_size + 1;
  text = malloc(size);
  if (!text) { *why = "out of memory"; goto err; }
  while (len < size) {
    ssize_t r = fd_read(fd, text + len, size - len);
    if (r < 0) { *why = "unable to read"; goto err; }
    if (!r) break;
    len += (size_t)r;
  }
  if (len == size) { *why = "changed while being read"; errno = 0; goto err; }
  fd_close(fd); fd = -1;

  t = calloc(1, sizeof *t);
  if (t) { t->nalloc = (unsigned int)(len / 96 + 1); t->keys = calloc(t->nalloc, sizeof *t->keys); }
  if (!t || !t->keys) { *why = "out of memory"; errno = ENOMEM; goto err; }
  t->refs = 1;
  t->lifetime = lifetime;
  for (pos = 0; pos < len; ) {
    char const *line = text + pos;
    char const *nl = memchr(line, '\n', len - pos);
    size_t l = nl ? (size_t)(nl - line) : len - pos;
    pos += l + (nl ? 1 : 0);
    lineno++;
    if (l && line[l - 1] == '\r') l--;
    if (!l || line[0] == '#') continue;
    if (parse_key(&t->keys[t->n], line, l) < 0) {
      char fmt[UINT64_FMT];
      fmt[uint64_fmt(fmt, (uint64_t)lineno)] = 0;
      memcpy(linemsg, "line ", 5);
      strcpy(linemsg + 5, fmt);
      strcat(linemsg, ": each key must be 96 hex digits");
      *why = linemsg; errno = 0;
      goto err;
    }
    t->n++;
  }
  if (!t->n) { *why = "holds no key"; errno = 0; goto err; }
  /* The context names what a session is valid for: this file (every host
     sharing it names it alike) and the caller's scope. Not a key: a
     rotation would change it and strand every ticket still valid. */
  if (!labelled_hash(t->sid, "ucspi-tls session id context", file, strlen(file) + 1, scope, scope ? strlen(scope) : 0)) {
    *why = "unable to hash"; errno = 0; goto err;
  }
  wipe_free(text, size);
  return t;

 err:
  {
    int e = errno;
    if (fd >= 0) fd_close(fd);
    wipe_free(text, size);
    if (t) tickets_destroy(t);
    errno = e;
  }
  return 0;
}

#ifndef LIBRESSL_VERSION_NUMBER

#include <openssl/core_names.h>

/* OpenSSL 3 asks an SSL_CTX's ticket_key_evp_cb before libtls's legacy
   callback; libtls's own callback answers "issue no ticket" to OpenSSL 3
   (it returns 0 where OpenSSL wants 1), so this module replaces it. */

static int keys_index = -1;

static void keys_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
  tickets_release(ptr);
}

static int set_hmac(EVP_MAC_CTX *h, unsigned char *key)
{
  OSSL_PARAM p[3];
  p[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key, 32);
  p[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
  p[2] = OSSL_PARAM_construct_end();
  return EVP_MAC_CTX_set_params(h, p);
}

/* enc: 1 sealed, 0 no ticket, -1 error. Opening: 1 ok, 2 ok and renew
   (an older key: the client gets a ticket under the newest), 0 unknown
   key (a full handshake), -1 error. */
static int ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
  struct tickets *t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), keys_index);
  unsigned int i;
  if (!t || !t->n) return 0;
  if (enc) {
    struct ticket_key *k = &t->keys[t->n - 1];
    memcpy(name, k->name, sizeof k->name);
    if (RAND_bytes(iv, 16) != 1) return -1;
    if (EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), 0, k->aes, iv) != 1) return -1;
    return set_hmac(hctx, k->hmac) == 1 ? 1 : -1;
  }
  for (i = t->n; i--; ) {
    struct ticket_key *k = &t->keys[i];
    if (memcmp(name, k->name, sizeof k->name)) continue;
    if (set_hmac(hctx, k->hmac) != 1) return -1;
    if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), 0, k->aes, iv) != 1) return -1;
    return i == t->n - 1 ? 1 : 2;
  }
  return 0;
}

int tickets_configure(struct tls *ctx, struct tls_config *cfg, struct tickets *t, char const **why)
{
  struct sslcapture cap = SSLCAPTURE_ZERO;
  unsigned int i, n;
  int r;
  *why = 0;
  if (keys_index < 0) keys_index = SSL_CTX_get_ex_new_index(0, 0, 0, 0, &keys_free);
  if (keys_index < 0 || !sslcapture_begin(&cap)) { *why = "unable to register with OpenSSL"; return -1; }
  r = tls_configure(ctx, cfg);
  sslcapture_end();
  if (r < 0) {
    *why = tls_error(ctx);
    if (!*why) *why = "unknown error";
    goto err;
  }
  n = sslcapture_nctx(&cap);
  if (cap.lost || !n) { *why = cap.lost ? "out of memory" : "no OpenSSL context to configure"; goto err; }
  for (i = 0; i < n; i++) {
    SSL_CTX *c = sslcapture_ctx(&cap, i);
    if (!t) {
      /* libtls turned TLS 1.2 tickets off; OpenSSL would still send two
         TLS 1.3 tickets that only this process could ever open. */
      SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
      if (SSL_CTX_set_num_tickets(c, 0) != 1) { *why = "unable to turn tickets off"; goto err; }
      continue;
    }
    if (SSL_CTX_set_session_id_context(c, t->sid, sizeof t->sid) != 1
        || !SSL_CTX_set_ex_data(c, keys_index, t)) { *why = "unable to set the session context"; goto err; }
    t->refs++;
    SSL_CTX_set_timeout(c, (long)t->lifetime);
    SSL_CTX_clear_options(c, SSL_OP_NO_TICKET);
    if (SSL_CTX_set_tlsext_ticket_key_evp_cb(c, &ticket_cb) != 1) { *why = "unable to set the ticket callback"; goto err; }
  }
  sslcapture_free(&cap);
  return 0;
 err:
  sslcapture_free(&cap);
  return -1;
}

#else

/* LibreSSL's libtls: its own ticket callback is right there. Feed it the
   derived keys (AES key, then the first half of the HMAC key), named by
   the first bytes of the key's hash. */
int tickets_configure(struct tls *ctx, struct tls_config *cfg, struct tickets *t, char const **why)
{
  unsigned int i;
  *why = 0;
  if (t) {
    for (i = 0; i < t->n; i++) {
      struct ticket_key *k = &t->keys[i];
      unsigned char key[TLS_TICKET_KEY_SIZE];
      uint32_t rev = (uint32_t)k->name[0] << 24 | (uint32_t)k->name[1] << 16 | (uint32_t)k->name[2] << 8 | k->name[3];
      int r;
      memcpy(key, k->aes, 32);
      memcpy(key + 32, k->hmac, TLS_TICKET_KEY_SIZE - 32);
      r = tls_config_add_ticket_key(cfg, rev, key, sizeof key);
      explicit_bzero(key, sizeof key);
      if (r < 0) { *why = tls_config_error(cfg); return -1; }
    }
    if (tls_config_set_session_id(cfg, t->sid, sizeof t->sid) < 0
        || tls_config_set_session_lifetime(cfg, (int)t->lifetime) < 0) { *why = tls_config_error(cfg); return -1; }
  } else tls_config_set_session_lifetime(cfg, 0);
  if (tls_configure(ctx, cfg) < 0) {
    *why = tls_error(ctx);
    if (!*why) *why = "unknown error";
    return -1;
  }
  return 0;
}

#endif
