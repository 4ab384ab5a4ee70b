/* ucspitls_client.c - the program's side of the UCSPI-TLS control protocol.
 * Plain POSIX C; also builds as gnu89 (old qmail Makefiles).
 * See ucspitls_client.h and doc/ucspi-tls-protocol.md. */

#if defined(__STRICT_ANSI__) && !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE) && !defined(_XOPEN_SOURCE)
#define _XOPEN_SOURCE 700
#endif

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ucspitls_client.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif
#ifndef EPROTO
#define EPROTO EIO
#endif
#ifndef EMSGSIZE
#define EMSGSIZE E2BIG
#endif

#define UCSPITLS_REPLY_MAX 65536
#define UCSPITLS_PARAM_MAX 4096
#define UCSPITLS_HOST_MAX 255
#define UCSPITLS_CAFILE_MAX 1023

/* A descriptor number from the environment: decimal digits only. -1 if
 * unset or malformed. */
static int envfd(const char *name)
{
  const char *s = getenv(name);
  long n = 0;
  if (!s || !*s) return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    n = n * 10 + (*s - '0');
    if (n > 1000000L) return -1;
  }
  return (int)n;
}

static int fdopen_p(int fd)
{
  return fd >= 0 && fcntl(fd, F_GETFD) != -1;
}

int ucspitls_available(void)
{
  return fdopen_p(envfd("SSLCTLFD")) && fdopen_p(envfd("SSLREADFD"))
    && fdopen_p(envfd("SSLWRITEFD"));
}

/* Waits until fd is ready for ev (after EAGAIN on a non-blocking fd). */
static int waitfd(int fd, short ev)
{
  struct pollfd p;
  for (;;) {
    p.fd = fd;
    p.events = ev;
    p.revents = 0;
    if (poll(&p, 1, -1) >= 0) return 0;
    if (errno != EINTR) return -1;
  }
}

static int again(void)
{
  return errno == EAGAIN || errno == EWOULDBLOCK;
}

/* Writes all of buf; a socket gets MSG_NOSIGNAL so a vanished engine gives
 * EPIPE rather than SIGPIPE. */
static int writeall(int fd, const char *buf, size_t len)
{
  int sock = 1;
  ssize_t r;
  while (len) {
    if (sock) {
      r = send(fd, buf, len, MSG_NOSIGNAL);
      if (r < 0 && errno == ENOTSOCK) { sock = 0; continue; }
    } else r = write(fd, buf, len);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (again()) { if (waitfd(fd, POLLOUT) < 0) return -1; continue; }
      return -1;
    }
    buf += r;
    len -= (size_t)r;
  }
  return 0;
}

static size_t addstr(char *buf, size_t pos, const char *s)
{
  size_t n = strlen(s);
  memcpy(buf + pos, s, n);
  return pos + n;
}

int ucspitls_send_socket(int sockfd, const char *host, const char *cafile, int verify)
{
  char buf[UCSPITLS_PARAM_MAX];
  union { struct cmsghdr h; char space[CMSG_SPACE(sizeof(int))]; } cbuf;
  struct msghdr msg;
  struct iovec iov;
  struct cmsghdr *cm;
  size_t len, need;
  ssize_t r;
  int ctl = envfd("SSLCTLFD");

  if (ctl < 0) { errno = EBADF; return -1; }
  if (sockfd < 0 || !host || !*host) { errno = EINVAL; return -1; }
  if (cafile && !*cafile) cafile = 0;
  if (strlen(host) > UCSPITLS_HOST_MAX || (cafile && strlen(cafile) > UCSPITLS_CAFILE_MAX)) {
    errno = EINVAL;
    return -1;
  }
  /* the whole block, 'S' and final NUL included */
  need = 1 + 5 + strlen(host) + 1 + 8 + 1 + 1;
  if (cafile) need += 7 + strlen(cafile) + 1;
  if (need > UCSPITLS_PARAM_MAX) { errno = EINVAL; return -1; }

  len = 0;
  buf[len++] = 'S';
  len = addstr(buf, len, "host=");
  len = addstr(buf, len, host);
  buf[len++] = 0;
  if (cafile) {
    len = addstr(buf, len, "cafile=");
    len = addstr(buf, len, cafile);
    buf[len++] = 0;
  }
  len = addstr(buf, len, verify ? "verify=1" : "verify=0");
  buf[len++] = 0;
  buf[len++] = 0;

  memset(&cbuf, 0, sizeof cbuf);
  memset(&msg, 0, sizeof msg);
  iov.iov_base = buf;
  iov.iov_len = len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf.space;
  msg.msg_controllen = CMSG_SPACE(sizeof(int));
  cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &sockfd, sizeof(int));

  for (;;) {
    r = sendmsg(ctl, &msg, MSG_NOSIGNAL);
    if (r >= 0) break;
    if (errno == EINTR) continue;
    if (again()) { if (waitfd(ctl, POLLOUT) < 0) return -1; continue; }
    return -1;
  }
  /* the descriptor went with the first byte; the rest, if any, plainly */
  if ((size_t)r < len) return writeall(ctl, buf + r, len - (size_t)r);
  return 0;
}

static void seterr(char *err, size_t errlen, const char *s, size_t n)
{
  if (!err || !errlen) return;
  if (n > errlen - 1) n = errlen - 1;
  memcpy(err, s, n);
  err[n] = 0;
}

static int namechar(char c, int first)
{
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_') return 1;
  return !first && c >= '0' && c <= '9';
}

/* One entry, "NAME=value" or "NAME" (len bytes, no NUL inside): 1 if well
 * formed. *eq gets the length of NAME. */
static int entry_ok(const char *s, size_t len, size_t *eq)
{
  size_t i;
  for (i = 0; i < len && s[i] != '='; i++)
    if (!namechar(s[i], i == 0)) return 0;
  if (i == 0) return 0;
  *eq = i;
  return 1;
}

static char reply[UCSPITLS_REPLY_MAX];

int ucspitls_starttls(char *err, size_t errlen)
{
  size_t len = 0, start = 0, eq, i;
  int done = 0, sock = 1, e;
  ssize_t r;
  int ctl = envfd("SSLCTLFD");

  if (err && errlen) err[0] = 0;
  if (ctl < 0) {
    seterr(err, errlen, "SSLCTLFD not set", 16);
    errno = EBADF;
    return -1;
  }
  if (writeall(ctl, "Y", 1) < 0) {
    e = errno;
    seterr(err, errlen, "unable to write to SSLCTLFD", 27);
    errno = e;
    return -1;
  }

  /* read up to the terminating empty entry, or EOF; entries start at start */
  while (!done) {
    if (len == sizeof reply) {
      seterr(err, errlen, "reply from SSLCTLFD too long", 28);
      errno = EMSGSIZE;
      return -1;
    }
    if (sock) {
      r = recv(ctl, reply + len, sizeof reply - len, 0);
      if (r < 0 && errno == ENOTSOCK) { sock = 0; continue; }
    } else r = read(ctl, reply + len, sizeof reply - len);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (again()) {
        if (waitfd(ctl, POLLIN) == 0) continue;
        r = -1;
      }
      if (r < 0 && errno == ECONNRESET) r = 0;
      else if (r < 0) {
        e = errno;
        seterr(err, errlen, "unable to read from SSLCTLFD", 28);
        errno = e;
        return -1;
      }
    }
    if (r == 0) break;
    for (i = len; i < len + (size_t)r; i++) {
      if (reply[i]) continue;
      if (i == start) { done = 1; break; }
      start = i + 1;
    }
    len += (size_t)r;
  }

  if (!done) {
    /* handshake failed: look for SSL_ERROR among the complete entries */
    const char *why = "no reason given";
    size_t wlen = 15;
    for (i = 0; i < start; ) {
      size_t n = strlen(reply + i);
      if (n > 10 && !memcmp(reply + i, "SSL_ERROR=", 10)) {
        why = reply + i + 10;
        wlen = n - 10;
      }
      i += n + 1;
    }
    seterr(err, errlen, why, wlen);
    return 0;
  }

  /* well formed? entries are [0, start), each NUL-terminated */
  for (i = 0; i < start; ) {
    size_t n = strlen(reply + i);
    if (!entry_ok(reply + i, n, &eq)) {
      seterr(err, errlen, "malformed reply from SSLCTLFD", 29);
      errno = EPROTO;
      return -1;
    }
    i += n + 1;
  }
  for (i = 0; i < start; ) {
    size_t n = strlen(reply + i);
    entry_ok(reply + i, n, &eq);
    if (eq == n) {
      if (unsetenv(reply + i) < 0) goto envfail;
    } else {
      reply[i + eq] = 0;
      r = setenv(reply + i, reply + i + eq + 1, 1);
      reply[i + eq] = '=';
      if (r < 0) goto envfail;
    }
    i += n + 1;
  }
  return 1;

envfail:
  e = errno;
  seterr(err, errlen, "unable to set environment", 25);
  errno = e;
  return -1;
}

static void closeonce(int fd, const int *keep, int nkeep, int *closed, int *nclosed)
{
  int i;
  if (fd < 0) return;
  for (i = 0; i < nkeep; i++) if (keep[i] == fd) return;
  for (i = 0; i < *nclosed; i++) if (closed[i] == fd) return;
  closed[(*nclosed)++] = fd;
  close(fd);
}

static int dup2i(int from, int to)
{
  for (;;) {
    if (dup2(from, to) >= 0) return 0;
    if (errno != EINTR && errno != EBUSY) return -1;
  }
}

int ucspitls_switch(int rfd, int wfd)
{
  int r = envfd("SSLREADFD");
  int w = envfd("SSLWRITEFD");
  int c = envfd("SSLCTLFD");
  int wsrc, wtmp = -1;
  int keep[4], closed[4];
  int nkeep = 0, nclosed = 0, e;

  if ((rfd >= 0 && !fdopen_p(r)) || (wfd >= 0 && !fdopen_p(w))) { errno = EBADF; return -1; }
  if (rfd >= 0 && rfd == wfd && r != w) { errno = EINVAL; return -1; }
  wsrc = w;
  /* dup2 onto rfd would destroy SSLWRITEFD before it is copied */
  if (rfd >= 0 && wfd >= 0 && wfd != rfd && w == rfd && r != w) {
    wtmp = dup(w);
    if (wtmp < 0) return -1;
    wsrc = wtmp;
  }
  if (rfd >= 0 && r != rfd && dup2i(r, rfd) < 0) goto fail;
  if (wfd >= 0 && wsrc != wfd && dup2i(wsrc, wfd) < 0) goto fail;

  if (rfd >= 0) keep[nkeep++] = rfd; else keep[nkeep++] = r;
  if (wfd >= 0) keep[nkeep++] = wfd; else keep[nkeep++] = w;
  closeonce(r, keep, nkeep, closed, &nclosed);
  closeonce(w, keep, nkeep, closed, &nclosed);
  closeonce(wtmp, keep, nkeep, closed, &nclosed);
  closeonce(c, keep, nkeep, closed, &nclosed);
  unsetenv("SSLCTLFD");
  unsetenv("SSLREADFD");
  unsetenv("SSLWRITEFD");
  return 0;

fail:
  e = errno;
  if (wtmp >= 0) close(wtmp);
  errno = e;
  return -1;
}
