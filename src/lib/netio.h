/* netio: the network side of a session as libtls sees it, through read and
   write callbacks. Owning the raw reads tells a peer's bare TCP FIN apart
   from a close_notify, counts raw bytes, and never changes the blocking mode
   of a socket the application shares (delayed mode): sockets are read with
   MSG_DONTWAIT instead. */
#ifndef UCSPITLS_NETIO_H
#define UCSPITLS_NETIO_H

#include <sys/types.h>
#include <tls.h>

struct netio {
  int rfd, wfd;
  int is_socket;       /* rfd is a socket: use recv/send */
  int saw_eof;         /* a raw read returned 0: the peer closed TCP (libtls was told "want read") */
  int err;             /* errno of a failed raw read or write, 0 if none */
  unsigned long long raw_in, raw_out;
};

/* Prepare descriptors: detect sockets, set TCP_NODELAY (a tcpserver does
   not, and the first reply after the handshake would wait 40 ms for a
   delayed ACK), make non-socket descriptors non-blocking. */
extern void netio_init(struct netio *, int rfd, int wfd);
extern ssize_t netio_read_cb(struct tls *, void *, size_t, void *);
extern ssize_t netio_write_cb(struct tls *, void const *, size_t, void *);

#endif
