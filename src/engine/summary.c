#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/ip46.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "envblock.h"
#include "summary.h"

static char const *const close_names[] = {
  "-", "clean", "unclean", "idle", "error", "declined", "handshake", "handshake-timeout",
  "config", "notls", "exec", "protocol", "system"
};

/* ip:port, with an IPv6 address in brackets. */
static void fmt_addr(char *out, size_t outlen, char const *ip, char const *port)
{
  size_t n = 0, iplen = ip ? strlen(ip) : 0;
  int six = ip && strchr(ip, ':');
  if (!ip || !*ip || iplen + 10 >= outlen) { memcpy(out, "-", 2); return; }
  if (six) out[n++] = '[';
  memcpy(out + n, ip, iplen); n += iplen;
  if (six) out[n++] = ']';
  if (port && *port && strlen(port) < 6) { out[n++] = ':'; memcpy(out + n, port, strlen(port)); n += strlen(port); }
  out[n] = 0;
}

void summary_begin(struct summary *s)
{
  tain_now_set_stopwatch_g();
  tain_copynow(&s->start);
  s->pid = getpid();
  fmt_addr(s->peer, sizeof s->peer, getenv("TCPREMOTEIP"), getenv("TCPREMOTEPORT"));
  fmt_addr(s->local, sizeof s->local, getenv("TCPLOCALIP"), getenv("TCPLOCALPORT"));
}

static void fmt_socket(char *out, size_t outlen, int fd, int remote)
{
  ip46 ip;
  uint16_t port;
  char ipfmt[IP46_FMT], portfmt[UINT16_FMT];
  if ((remote ? socket_remote46(fd, &ip, &port) : socket_local46(fd, &ip, &port)) < 0) return;
  ipfmt[ip46_fmt(ipfmt, &ip)] = 0;
  portfmt[uint16_fmt(portfmt, port)] = 0;
  fmt_addr(out, outlen, ipfmt, portfmt);
}

void summary_addresses(struct summary *s, int fd)
{
  fmt_socket(s->peer, sizeof s->peer, fd, 1);
  fmt_socket(s->local, sizeof s->local, fd, 0);
}

void summary_end(struct summary *s, enum close_kind k, struct reason const *why)
{
  s->close = k;
  if (why && why != &s->why) s->why = *why;
}

static int cat_field(stralloc *sa, char const *key, char const *value, int quote)
{
  size_t i;
  if (!stralloc_catb(sa, " ", 1) || !stralloc_cats(sa, key) || !stralloc_catb(sa, "=", 1)) return 0;
  if (!value || !*value) return stralloc_catb(sa, "-", 1);
  if (!quote) return stralloc_cats(sa, value);
  if (!stralloc_catb(sa, "\"", 1)) return 0;
  /* Nothing inside the quotes can end them or start a new line. */
  for (i = 0; value[i]; i++) {
    char ch = value[i];
    if ((unsigned char)ch < 0x20 || ch == 0x7f) ch = '?';
    else if (ch == '"') ch = '\'';
    if (!stralloc_catb(sa, &ch, 1)) return 0;
  }
  return stralloc_catb(sa, "\"", 1);
}

static int cat_uint(stralloc *sa, char const *key, unsigned long long u)
{
  char fmt[UINT64_FMT];
  fmt[uint64_fmt(fmt, (uint64_t)u)] = 0;
  return cat_field(sa, key, fmt, 0);
}

static int cat_time(stralloc *sa, tain const *start)
{
  tain now, d;
  char fmt[UINT_FMT + 8];
  size_t m;
  int ms;
  tain_now(&now);
  tain_sub(&d, &now, start);
  ms = tain_to_millisecs(&d);
  if (ms < 0) ms = 0;
  m = uint_fmt(fmt, (unsigned int)ms / 1000);
  fmt[m++] = '.';
  fmt[m++] = '0' + (ms / 100) % 10; fmt[m++] = '0' + (ms / 10) % 10; fmt[m++] = '0' + ms % 10;
  fmt[m] = 0;
  return cat_field(sa, "time", fmt, 0);
}

static void emit(stralloc *sa, int ok)
{
  if (ok && stralloc_catb(sa, "\n", 1)) allwrite(2, sa->s, sa->len);
  else allwrite(2, "out of memory formatting a log line\n", 36);
  stralloc_free(sa);
}

void summary_log(struct summary const *s, struct tlsconf const *c, int status, int prog_wstat)
{
  stralloc sa = STRALLOC_ZERO;
  char const *b = s->sslenv.s;
  size_t len = s->sslenv.len;
  int peer_is_client = c->is_server, ok;
  if (c->verbosity < 1) return;
  ok = stralloc_cats(&sa, PROG) && stralloc_cats(&sa, ": info: done")
    && cat_field(&sa, "peer", s->peer, 0)
    && cat_field(&sa, "sni", envblock_get(b, len, "SSL_TLS_SNI_SERVERNAME"), 0)
    && cat_field(&sa, "proto", envblock_get(b, len, "SSL_PROTOCOL"), 0)
    && cat_field(&sa, "cipher", envblock_get(b, len, "SSL_CIPHER"), 0)
    && cat_field(&sa, "resumed", !envblock_get(b, len, "SSL_SESSION_RESUMED") ? 0
                 : strcmp(envblock_get(b, len, "SSL_SESSION_RESUMED"), "Resumed") ? "no" : "yes", 0)
    && cat_field(&sa, "verify", envblock_get(b, len, peer_is_client ? "SSL_CLIENT_VERIFY" : "SSL_SERVER_VERIFY"), 1)
    && cat_field(&sa, "subject", envblock_get(b, len, peer_is_client ? "SSL_CLIENT_S_DN" : "SSL_SERVER_S_DN"), 1)
    /* Names the certificate holds but that were refused (too long, unsafe
       text): the same list prog gets in SSL_PEER_CERT_REFUSED. */
    && (!envblock_get(b, len, "SSL_PEER_CERT_REFUSED") || cat_field(&sa, "refused", envblock_get(b, len, "SSL_PEER_CERT_REFUSED"), 0))
    && cat_uint(&sa, "in", s->bytes_in)
    && cat_uint(&sa, "out", s->bytes_out)
    && cat_time(&sa, &s->start)
    && cat_field(&sa, "close", close_names[s->close], 0)
    && (s->close != CLOSE_ERROR || !s->why.text[0] || cat_field(&sa, "error", s->why.text, 1))
    && cat_uint(&sa, "status", (unsigned int)status)
    && (prog_wstat < 0 || cat_uint(&sa, "prog", (unsigned int)wait_estatus(prog_wstat)))
    && cat_field(&sa, "local", s->local, 0)
    && cat_uint(&sa, "pid", (unsigned long long)s->pid)
    && (!s->why.text[0] || cat_field(&sa, "reason", s->why.text, 1));
  emit(&sa, ok);
}

void summary_log_failure(struct summary const *s, char const *level, char const *what)
{
  stralloc sa = STRALLOC_ZERO;
  int ok = stralloc_cats(&sa, PROG) && stralloc_catb(&sa, ": ", 2) && stralloc_cats(&sa, level)
    && stralloc_catb(&sa, ": ", 2) && stralloc_cats(&sa, what) && stralloc_catb(&sa, ":", 1)
    && cat_field(&sa, "peer", s->peer, 0)
    && stralloc_cats(&sa, " reason=") && stralloc_cats(&sa, s->why.text[0] ? s->why.text : "unknown");
  emit(&sa, ok);
}

void summary_log_debug(struct summary const *s, struct tlsconf const *c, char const *what, char const *detail)
{
  stralloc sa = STRALLOC_ZERO;
  int ok;
  if (c->verbosity < 2) return;
  ok = stralloc_cats(&sa, PROG) && stralloc_cats(&sa, ": debug: ") && stralloc_cats(&sa, what)
    && cat_field(&sa, "peer", s->peer, 0)
    && (!detail || (stralloc_catb(&sa, " ", 1) && stralloc_cats(&sa, detail)));
  emit(&sa, ok);
}
