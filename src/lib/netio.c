#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include "netio.h"

static int fd_is_socket(int fd)
{
  int type;
  socklen_t len = sizeof type;
  return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
}

void netio_init(struct netio *n, int rfd, int wfd)
{
  int one = 1;
  n->rfd = rfd; n->wfd = wfd;
  n->saw_eof = 0; n->raw_in = n->raw_out = 0;
  n->is_socket = fd_is_socket(rfd) && fd_is_socket(wfd);
  if (n->is_socket) {
    /* Fails harmlessly on unix sockets. */
    setsockopt(wfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  } else {
    fcntl(rfd, F_SETFL, fcntl(rfd, F_GETFL) | O_NONBLOCK);
    fcntl(wfd, F_SETFL, fcntl(wfd, F_GETFL) | O_NONBLOCK);
  }
}

ssize_t netio_read_cb(struct tls *t, void *buf, size_t len, void *arg)
{
  struct netio *n = arg;
  ssize_t r = n->is_socket ? recv(n->rfd, buf, len, MSG_DONTWAIT) : read(n->rfd, buf, len);
  (void)t;
  if (r < 0) return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? TLS_WANT_POLLIN : -1;
  if (!r) n->saw_eof = 1;
  n->raw_in += (unsigned long long)r;
  return r;
}

ssize_t netio_write_cb(struct tls *t, void const *buf, size_t len, void *arg)
{
  struct netio *n = arg;
  ssize_t r = n->is_socket ? send(n->wfd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) : write(n->wfd, buf, len);
  (void)t;
  if (r < 0) return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? TLS_WANT_POLLOUT : -1;
  n->raw_out += (unsigned long long)r;
  return r;
}
