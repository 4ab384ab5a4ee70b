#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/strerr.h>
#include "sslcapture.h"
#include "sesscache.h"

#define ENTRY_MAX 65536

/* One tlsclient makes one connection: the entry it reads is the one it
   writes, so the state is this file's. */
static char entry[4096], tmpentry[4200];
static unsigned int max_age;

/* The directory: owned by us, nobody else's. 1 usable, 0 not (warned). */
static int dir_ok(char const *dir)
{
  struct stat st;
  char msg[160];
  if (stat(dir, &st) < 0) {
    if (errno != ENOENT || mkdir(dir, 0700) < 0 || stat(dir, &st) < 0) {
      strerr_warnwu3sys("use session cache ", dir, ": not resuming");
      return 0;
    }
  }
  if (!S_ISDIR(st.st_mode)) {
    strerr_warnw3x("session cache ", dir, " refused: not a directory: not resuming");
    return 0;
  }
  if (st.st_uid != geteuid() || st.st_mode & 077) {
    snprintf(msg, sizeof msg, " refused: mode %03o, owner uid %u; it must be mode 700 and owned by uid %u: not resuming",
             (unsigned int)(st.st_mode & 0777), (unsigned int)st.st_uid, (unsigned int)geteuid());
    strerr_warnw3x("session cache ", dir, msg);
    return 0;
  }
  return 1;
}

static int name_is_plain(char const *s)
{
  size_t n = 0;
  if (!*s || *s == '.') return 0;
  for (; s[n]; n++) {
    char ch = s[n];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_'))
      return 0;
  }
  return n <= 253;
}

/* dir/NAME:PORT:HASH, HASH a digest of name, port and trust settings (and
   the whole name when it is not a plain host name). 0 ok, -1 no name. */
static int make_entry(struct sesscache_args const *a)
{
  union { struct sockaddr sa; struct sockaddr_in in; struct sockaddr_in6 in6; } peer;
  socklen_t plen = sizeof peer;
  char host[INET6_ADDRSTRLEN], port[8];
  char const *name = a->servername;
  unsigned char h[32];
  unsigned int hlen = sizeof h, p;
  EVP_MD_CTX *md;
  int ok;
  if (getpeername(a->netfd, &peer.sa, &plen) < 0) return -1;
  if (peer.sa.sa_family == AF_INET) {
    inet_ntop(AF_INET, &peer.in.sin_addr, host, sizeof host);
    p = ntohs(peer.in.sin_port);
  } else if (peer.sa.sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &peer.in6.sin6_addr, host, sizeof host);
    p = ntohs(peer.in6.sin6_port);
  } else return -1;
  if (!name || !*name) name = host;
  snprintf(port, sizeof port, "%u", p);
  md = EVP_MD_CTX_new();
  ok = md && EVP_DigestInit_ex(md, EVP_sha256(), 0)
    && EVP_DigestUpdate(md, name, strlen(name) + 1) && EVP_DigestUpdate(md, port, strlen(port) + 1)
    && EVP_DigestUpdate(md, a->trust ? a->trust : "", a->trust ? strlen(a->trust) + 1 : 1)
    && EVP_DigestFinal_ex(md, h, &hlen);
  EVP_MD_CTX_free(md);
  if (!ok) return -1;
  snprintf(entry, sizeof entry, "%s/%s:%s:%02x%02x%02x%02x%02x%02x", a->dir, name_is_plain(name) ? name : "-",
           port, h[0], h[1], h[2], h[3], h[4], h[5]);
  snprintf(tmpentry, sizeof tmpentry, "%s.%ld.tmp", entry, (long)getpid());
  return 0;
}

/* The session of the entry, when it is ours, valid and young enough. */
static SSL_SESSION *entry_read(void)
{
  struct stat st;
  unsigned char *buf = 0;
  unsigned char const *q;
  size_t len = 0, size = 0;
  SSL_SESSION *s = 0;
  int fd = open(entry, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT) strerr_warnwu3sys("read session cache entry ", entry, "");
    return 0;
  }
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_mode & 077
      || st.st_size <= 0 || st.st_size > ENTRY_MAX) {
    char msg[96];
    snprintf(msg, sizeof msg, " refused: it must be a regular file owned by uid %u, mode 600: not resuming", (unsigned int)geteuid());
    strerr_warnw3x("session cache entry ", entry, msg);
    goto end;
  }
  size = (size_t)st.st_size;
  buf = malloc(size);
  if (!buf) goto end;
  len = allread(fd, (char *)buf, size);
  if (len != size) goto end;
  q = buf;
  s = d2i_SSL_SESSION(0, &q, (long)len);
  if (s) {
    time_t now = time(0), made = (time_t)SSL_SESSION_get_time(s);
    long life = SSL_SESSION_get_timeout(s);
    if (life <= 0 || (unsigned long)life > max_age) life = (long)max_age;
    if (!SSL_SESSION_is_resumable(s) || now < made || now - made >= life) {
      SSL_SESSION_free(s);
      s = 0;
      unlink(entry);
    }
  }
 end:
  if (buf) { explicit_bzero(buf, size); free(buf); }
  fd_close(fd);
  return s;
}

/* OpenSSL hands every session the server gives: after a TLS 1.2
   handshake, and for each TLS 1.3 ticket. Returns 0: OpenSSL keeps no
   reference. */
static int entry_write(SSL *ssl, SSL_SESSION *s)
{
  unsigned char *buf = 0, *q;
  int len, fd;
  size_t w;
  if (!SSL_SESSION_is_resumable(s)) return 0;
  len = i2d_SSL_SESSION(s, 0);
  if (len <= 0 || len > ENTRY_MAX || !(buf = malloc((size_t)len))) return 0;
  q = buf;
  if (i2d_SSL_SESSION(s, &q) != len) goto end;
  fd = open(tmpentry, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) { strerr_warnwu3sys("write session cache entry ", tmpentry, ""); goto end; }
  w = allwrite(fd, (char const *)buf, (size_t)len);
  if (w != (size_t)len || close(fd) < 0) {
    strerr_warnwu3sys("write session cache entry ", tmpentry, "");
    unlink(tmpentry);
    goto end;
  }
  if (rename(tmpentry, entry) < 0) {
    strerr_warnwu3sys("rename session cache entry ", tmpentry, "");
    unlink(tmpentry);
  }
 end:
  if (buf) { explicit_bzero(buf, (size_t)len); free(buf); }
  return 0;
}

int sesscache_connect(struct tls *ctx, tls_read_cb readcb, tls_write_cb writecb, void *cbarg,
                      struct sesscache_args const *a, char const **why)
{
  struct sslcapture cap = SSLCAPTURE_ZERO;
  int use = a->dir && *a->dir, r, capturing;
  SSL_SESSION *s;
  *why = 0;
  if (use && !dir_ok(a->dir)) use = 0;
  if (use && make_entry(a) < 0) { strerr_warnw1x("session cache: no name for this server: not resuming"); use = 0; }
  max_age = a->lifetime;
  /* libtls makes the client's SSL_CTX and SSL here; the handshake starts
     with the first tls_handshake, so the session can still be set. */
  capturing = sslcapture_begin(&cap);
  if (!capturing) use = 0;
  r = tls_connect_cbs(ctx, readcb, writecb, cbarg, a->servername);
  if (capturing) sslcapture_end();
  if (r < 0) { *why = tls_error(ctx); sslcapture_free(&cap); return r; }
  /* Whatever the cache does: a TLS 1.2 server asking to renegotiate is
     refused, as tlsserver refuses its clients (libtls has no switch for
     the client side, and OpenSSL would go along). */
  if (cap.ssl) SSL_set_options(cap.ssl, SSL_OP_NO_RENEGOTIATION);
  if (use && (cap.lost || sslcapture_nctx(&cap) != 1 || !cap.ssl)) {
    strerr_warnw1x("session cache: this libtls made no single client context: not resuming");
    use = 0;
  }
  if (use) {
    SSL_CTX *c = sslcapture_ctx(&cap, 0);
    /* libtls turns tickets and the client cache off; the cache here is
       external (NO_INTERNAL_STORE), fed by the callback. */
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(c, &entry_write);
    SSL_CTX_clear_options(c, SSL_OP_NO_TICKET);
    SSL_clear_options(cap.ssl, SSL_OP_NO_TICKET);
    s = entry_read();
    if (s) {
      if (SSL_set_session(cap.ssl, s) != 1) strerr_warnw2x("session cache: unable to offer the session of ", entry);
      SSL_SESSION_free(s);
    }
  }
  sslcapture_free(&cap);
  return r;
}
