/* fdmsg: one framed message over a unix stream socket, with descriptors
   attached (SCM_RIGHTS): the exchange between tlsdserver and tlsd. A
   message is a 4-byte length (little endian), then that many bytes; the
   descriptors ride on its first byte. No OpenSSL here: tlsdserver links
   this. */
#ifndef UCSPITLS_FDMSG_H
#define UCSPITLS_FDMSG_H

#include <stddef.h>
#include <skalibs/stralloc.h>
#include <skalibs/tai.h>

#define FDMSG_MAXFDS 4
#define FDMSG_MAXLEN 65536

/* 0 sent, -1 (errno). The socket may be non-blocking only if the message
   fits its buffer (the first one on a fresh connection does). */
extern int fdmsg_send(int sock, char const *data, size_t len, int const *fds, unsigned int nfds);

/* Receive one message into data (replacing its contents) and up to
   FDMSG_MAXFDS descriptors (close-on-exec), until the deadline (NULL: no
   deadline). 1 received, 0 EOF before any byte, -1 (errno: ETIMEDOUT,
   EPROTO for a malformed frame or too many descriptors, or the system's).
   Descriptors received with a failed message are closed. */
extern int fdmsg_recv(int sock, stralloc *data, int *fds, unsigned int *nfds, tain const *deadline);

#endif
