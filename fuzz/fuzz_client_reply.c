/* fuzz_client_reply: libFuzzer harness for the reply parsing of
 * ucspitls_starttls() (src/client/ucspitls_client.c), the client helper that
 * qmail-smtpd / qmail-remote patches link.
 *
 * ucspitls_client.c has no pure parsing function, so the harness plays the
 * engine: per input it makes a socketpair, puts one end on the descriptor
 * named by SSLCTLFD, writes the fuzzed reply into the other end (in chunks,
 * on a stream or a seqpacket socket so that the reply arrives in pieces),
 * shuts that end's write side, and calls ucspitls_starttls().
 * setenv() and unsetenv() are interposed while the call runs: they record
 * what the helper applies instead of growing the process environment (and
 * can be told to fail, to reach the ENOMEM path).
 *
 * Input: byte 0 flags (bit 0 seqpacket, bit 1 err=NULL when errlen is 0,
 * bits 2-7: 1 + index of the env call that fails, 0 = none), byte 1 chunk
 * size (0: one write), byte 2 errlen (mod 80), then the reply bytes.
 *
 * Properties (from ucspitls_client.h): the helper wrote exactly one 'Y';
 * its return value, errno, err text and the set/unset calls equal those of
 * a reference model of the protocol:
 *   terminator (empty entry) within the first 64 KiB -> well formed
 *     (names [A-Za-z_][A-Za-z0-9_]*) ? 1 and every entry applied in order
 *     : -1 EPROTO, nothing applied;
 *   no terminator, 64 KiB or more -> -1 EMSGSIZE;
 *   no terminator, EOF -> 0, err = value of the last complete non-empty
 *     SSL_ERROR= entry, else "no reason given";
 * err is NUL-terminated inside errlen bytes (the buffer is exactly errlen
 * bytes on the heap) and holds the expected text truncated to errlen-1.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "ucspitls_client.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz_client_reply: property failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size);
int setenv(char const *name, char const *value, int overwrite);
int unsetenv(char const *name);

#define CTLFD 200
#define REPLY_MAX 65536
#define MAXCALLS 70000

/* ---- interposed environment calls ---- */
struct call { int set; size_t nlen, vlen; char const *name, *value; };
static struct call calls[MAXCALLS];
static size_t ncalls;
static int capturing;
static size_t fail_at;       /* 1-based index of the call that fails, 0 none */
static char store[2 * REPLY_MAX + 16];   /* copies of names and values */
static size_t storelen;

static char const *keep(char const *s, size_t n)
{
  char *p;
  CHECK(storelen + n + 1 <= sizeof store);
  p = store + storelen;
  memcpy(p, s, n);
  p[n] = 0;
  storelen += n + 1;
  return p;
}

static int record(int set, char const *name, char const *value)
{
  CHECK(ncalls < MAXCALLS);
  calls[ncalls].set = set;
  calls[ncalls].nlen = strlen(name);
  calls[ncalls].name = keep(name, calls[ncalls].nlen);
  calls[ncalls].vlen = value ? strlen(value) : 0;
  calls[ncalls].value = value ? keep(value, calls[ncalls].vlen) : 0;
  ncalls++;
  if (fail_at && ncalls == fail_at) { errno = ENOMEM; return -1; }
  return 0;
}

int setenv(char const *name, char const *value, int overwrite)
{
  if (!capturing) {
    int (*real)(char const *, char const *, int) = (int (*)(char const *, char const *, int))dlsym(RTLD_NEXT, "setenv");
    return real(name, value, overwrite);
  }
  CHECK(overwrite == 1);
  return record(1, name, value);
}

int unsetenv(char const *name)
{
  if (!capturing) {
    int (*real)(char const *) = (int (*)(char const *))dlsym(RTLD_NEXT, "unsetenv");
    return real(name);
  }
  return record(0, name, 0);
}

/* ---- the reference model ---- */
struct expect {
  int ret, err_no;
  char const *text; size_t textlen;   /* err text */
  size_t term;                        /* terminator index when ret != 0 on a complete reply */
};

static int namechar(unsigned char c, int first)
{
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_') return 1;
  return !first && c >= '0' && c <= '9';
}

static void model(char const *b, size_t len, struct expect *x)
{
  size_t i = 0, term = (size_t)-1, lastcomplete = 0;
  while (i < len) {
    char const *e;
    if (!b[i]) { term = i; break; }
    e = memchr(b + i, 0, len - i);
    if (!e) break;
    i = (size_t)(e - b) + 1;
    lastcomplete = i;
  }
  x->err_no = 0;
  if (term != (size_t)-1 && term < REPLY_MAX) {
    size_t k = 0;
    x->term = term;
    while (k < term) {
      size_t n = strlen(b + k), j;
      for (j = 0; j < n && b[k + j] != '='; j++)
        if (!namechar((unsigned char)b[k + j], j == 0)) break;
      if (j == 0 || (j < n && b[k + j] != '=')) {
        x->ret = -1; x->err_no = EPROTO;
        x->text = "malformed reply from SSLCTLFD"; x->textlen = 29;
        return;
      }
      k += n + 1;
    }
    x->ret = 1; x->text = ""; x->textlen = 0;
    return;
  }
  if (len >= REPLY_MAX) {
    x->ret = -1; x->err_no = EMSGSIZE;
    x->text = "reply from SSLCTLFD too long"; x->textlen = 28;
    return;
  }
  x->ret = 0;
  x->text = "no reason given"; x->textlen = 15;
  for (i = 0; i < lastcomplete; ) {
    size_t n = strlen(b + i);
    if (n > 10 && !memcmp(b + i, "SSL_ERROR=", 10)) { x->text = b + i + 10; x->textlen = n - 10; }
    i += n + 1;
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  char num[16];
  (void)argc; (void)argv;
  snprintf(num, sizeof num, "%d", CTLFD);
  setenv("SSLCTLFD", num, 1);
  return 0;
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  int sv[2], seq, nullerr, r, e;
  size_t chunk, errlen, len, sent = 0;
  char const *reply;
  char *err;
  char ybuf[8];
  ssize_t w;
  struct expect x;

  if (size < 3) return 0;
  seq = data[0] & 1;
  nullerr = data[0] & 2;
  fail_at = data[0] >> 2;
  chunk = data[1];
  errlen = data[2] % 80;
  reply = (char const *)data + 3;
  len = size - 3;

  CHECK(socketpair(AF_UNIX, (seq ? SOCK_SEQPACKET : SOCK_STREAM) | SOCK_CLOEXEC, 0, sv) == 0);
  CHECK(dup2(sv[0], CTLFD) == CTLFD);
  close(sv[0]);
  {
    int big = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    setsockopt(CTLFD, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  }
  CHECK(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0);
  /* the engine side: as much of the reply as the socket takes, then EOF */
  while (sent < len) {
    size_t n = chunk ? chunk : len - sent;
    if (n > len - sent) n = len - sent;
    w = send(sv[1], reply + sent, n, MSG_NOSIGNAL);
    if (w <= 0) break;
    sent += (size_t)w;
  }
  CHECK(shutdown(sv[1], SHUT_WR) == 0);

  err = errlen ? malloc(errlen) : nullerr ? 0 : malloc(1);
  if (err) memset(err, 'x', errlen ? errlen : 1);
  ncalls = 0; storelen = 0;
  capturing = 1;
  errno = 0;
  r = ucspitls_starttls(err, errlen);
  e = errno;
  capturing = 0;

  /* exactly one command byte */
  w = recv(sv[1], ybuf, sizeof ybuf, MSG_DONTWAIT);
  CHECK(w == 1 && ybuf[0] == 'Y');

  model(reply, sent, &x);
  if (x.ret == 1 && fail_at) {
    /* count the calls a successful parse makes: the failing one ends it */
    size_t k = 0, n = 0;
    while (k < x.term) { k += strlen(reply + k) + 1; n++; }
    if (fail_at <= n) { x.ret = -1; x.err_no = ENOMEM; x.text = "unable to set environment"; x.textlen = 25; }
  }
  CHECK(r == x.ret);
  if (r < 0) CHECK(e == x.err_no);
  if (errlen) {
    size_t want = x.textlen < errlen - 1 ? x.textlen : errlen - 1;
    CHECK(memchr(err, 0, errlen) != 0);
    CHECK(strlen(err) == want && !memcmp(err, x.text, want));
  } else if (err) CHECK(err[0] == 'x');   /* errlen 0: the buffer is not touched */

  /* what was applied */
  if (r == 0 || (r < 0 && x.err_no != ENOMEM)) CHECK(ncalls == 0);
  else {
    size_t k = 0, c = 0;
    while (k < x.term && c < ncalls) {
      size_t n = strlen(reply + k);
      char const *eq = memchr(reply + k, '=', n);
      if (eq) {
        size_t nl = (size_t)(eq - (reply + k));
        CHECK(calls[c].set && calls[c].nlen == nl && !memcmp(calls[c].name, reply + k, nl));
        CHECK(calls[c].vlen == n - nl - 1 && !memcmp(calls[c].value, eq + 1, n - nl - 1));
      } else CHECK(!calls[c].set && calls[c].nlen == n && !memcmp(calls[c].name, reply + k, n));
      k += n + 1;
      c++;
    }
    CHECK(c == ncalls);
    if (r == 1) CHECK(k == x.term);
    else CHECK(ncalls == fail_at);
  }

  free(err);
  close(CTLFD);
  close(sv[1]);
  return 0;
}
