#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include "fdmsg.h"

int fdmsg_send(int sock, char const *data, size_t len, int const *fds, unsigned int nfds)
{
  union { struct cmsghdr h; char buf[CMSG_SPACE(FDMSG_MAXFDS * sizeof(int))]; } ctl;
  unsigned char head[4];
  struct iovec v[2];
  struct msghdr m;
  size_t total = 4 + len, done = 0;
  if (len > FDMSG_MAXLEN || nfds > FDMSG_MAXFDS) { errno = EINVAL; return -1; }
  head[0] = (unsigned char)len; head[1] = (unsigned char)(len >> 8);
  head[2] = (unsigned char)(len >> 16); head[3] = (unsigned char)(len >> 24);
  while (done < total) {
    ssize_t w;
    size_t off = done;
    memset(&m, 0, sizeof m);
    m.msg_iov = v;
    if (off < 4) {
      v[0].iov_base = head + off; v[0].iov_len = 4 - off;
      v[1].iov_base = (char *)data; v[1].iov_len = len;
      m.msg_iovlen = 2;
    } else {
      v[0].iov_base = (char *)data + (off - 4); v[0].iov_len = len - (off - 4);
      m.msg_iovlen = 1;
    }
    if (!done && nfds) {
      struct cmsghdr *c;
      memset(&ctl, 0, sizeof ctl);
      m.msg_control = ctl.buf;
      m.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
      c = CMSG_FIRSTHDR(&m);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
      memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
    }
    w = sendmsg(sock, &m, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        iopause_fd x = { .fd = sock, .events = IOPAUSE_WRITE };
        if (iopause_g(&x, 1, &tain_infinite) < 0 && errno != EINTR) return -1;
        continue;
      }
      return -1;
    }
    done += (size_t)w;
  }
  return 0;
}

static void close_fds(int *fds, unsigned int *nfds)
{
  unsigned int i;
  for (i = 0; i < *nfds; i++) fd_close(fds[i]);
  *nfds = 0;
}

/* One recvmsg, waiting for readability until the deadline. Descriptors
   are taken from the first read only (they ride on the first byte). */
static ssize_t recv_some(int sock, char *buf, size_t len, int *fds, unsigned int *nfds, int want_fds, tain const *deadline)
{
  for (;;) {
    union { struct cmsghdr h; char buf[CMSG_SPACE((FDMSG_MAXFDS + 1) * sizeof(int))]; } ctl;
    struct iovec v = { .iov_base = buf, .iov_len = len };
    struct msghdr m;
    ssize_t r;
    memset(&m, 0, sizeof m);
    m.msg_iov = &v; m.msg_iovlen = 1;
    if (want_fds) { m.msg_control = ctl.buf; m.msg_controllen = sizeof ctl.buf; }
    r = recvmsg(sock, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (r >= 0) {
      struct cmsghdr *c;
      int bad = !!(m.msg_flags & MSG_CTRUNC);
      if (want_fds) for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        unsigned int n, i;
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        n = (unsigned int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (i = 0; i < n; i++) {
          int fd;
          memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
          if (*nfds < FDMSG_MAXFDS) fds[(*nfds)++] = fd;
          else { fd_close(fd); bad = 1; }
        }
      }
      if (bad) { close_fds(fds, nfds); errno = EPROTO; return -1; }
      return r;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return -1;
    {
      iopause_fd x = { .fd = sock, .events = IOPAUSE_READ };
      int e = iopause_g(&x, 1, deadline ? deadline : &tain_infinite);
      if (e < 0 && errno != EINTR) return -1;
      if (!e) { errno = ETIMEDOUT; return -1; }
    }
  }
}

int fdmsg_recv(int sock, stralloc *data, int *fds, unsigned int *nfds, tain const *deadline)
{
  unsigned char head[4];
  size_t got = 0, len;
  *nfds = 0;
  data->len = 0;
  while (got < 4) {
    ssize_t r = recv_some(sock, (char *)head + got, 4 - got, fds, nfds, !got, deadline);
    if (r < 0) goto fail;
    if (!r) {
      if (!got) { close_fds(fds, nfds); return 0; }
      errno = EPROTO; goto fail;
    }
    got += (size_t)r;
  }
  len = head[0] | (size_t)head[1] << 8 | (size_t)head[2] << 16 | (size_t)head[3] << 24;
  if (len > FDMSG_MAXLEN) { errno = EPROTO; goto fail; }
  if (!stralloc_ready(data, len + 1)) goto fail;
  while (data->len < len) {
    ssize_t r = recv_some(sock, data->s + data->len, len - data->len, fds, nfds, 0, deadline);
    if (r < 0) goto fail;
    if (!r) { errno = EPROTO; goto fail; }
    data->len += (size_t)r;
  }
  return 1;
 fail:
  {
    int e = errno;
    close_fds(fds, nfds);
    errno = e;
  }
  return -1;
}
