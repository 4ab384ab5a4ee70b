#include <errno.h>
#include <unistd.h>
#include <sys/socket.h>
#include <skalibs/djbunix.h>
#include <skalibs/socket.h>
#include "netio.h"

static int fd_is_socket(int fd)
{
  int type;
  socklen_t len = sizeof type;
  return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
}

void netio_init(struct netio *n, int rfd, int wfd)
{
  n->rfd = rfd; n->wfd = wfd;
  n->saw_eof = 0; n->err = 0; n->raw_in = n->raw_out = 0;
  n->is_socket = fd_is_socket(rfd) && fd_is_socket(wfd);
  if (n->is_socket) {
    /* Fails harmlessly on unix sockets. */
    socket_tcpnodelay(wfd);
  } else {
    ndelay_on(rfd);
    ndelay_on(wfd);
  }
}

ssize_t netio_read_cb(struct tls *t, void *buf, size_t len, void *arg)
{
  struct netio *n = arg;
  ssize_t r = n->is_socket ? recv(n->rfd, buf, len, MSG_DONTWAIT) : read(n->rfd, buf, len);
  (void)t;
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return TLS_WANT_POLLIN;
    if (!n->err) n->err = errno;   /* the first error is the cause */
    return -1;
  }
  if (!r) {
    /* Never let OpenSSL see a bare EOF: OpenSSL 3 would mark the session
       failed ("unexpected eof") and refuse our later writes, losing the
       reply to a peer that only half-closed. The engine checks saw_eof. */
    n->saw_eof = 1;
    return TLS_WANT_POLLIN;
  }
  n->raw_in += (unsigned long long)r;
  return r;
}

ssize_t netio_write_cb(struct tls *t, void const *buf, size_t len, void *arg)
{
  struct netio *n = arg;
  ssize_t r = n->is_socket ? send(n->wfd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) : write(n->wfd, buf, len);
  (void)t;
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return TLS_WANT_POLLOUT;
    if (!n->err) n->err = errno;   /* the first error is the cause */
    return -1;
  }
  n->raw_out += (unsigned long long)r;
  return r;
}
