#include <unistd.h>
#include <sys/socket.h>
#include <skalibs/djbunix.h>
#include <skalibs/socket.h>
#include "appchan.h"

int appchan_pipes(struct appchan *a)
{
  int to_prog[2], from_prog[2];
  if (pipecoe(to_prog) < 0) return -1;
  if (pipecoe(from_prog) < 0) { fd_close(to_prog[0]); fd_close(to_prog[1]); return -1; }
  a->wfd = to_prog[1]; a->prog_rfd = to_prog[0];
  a->rfd = from_prog[0]; a->prog_wfd = from_prog[1];
  a->pair = 0;
  return 0;
}

int appchan_pair(struct appchan *a)
{
  int sv[2];
  if (ipc_pair_coe(sv) < 0) return -1;
  a->rfd = a->wfd = a->pairfd = sv[0];
  a->prog_rfd = a->prog_wfd = sv[1];
  a->pair = 1;
  return 0;
}

void appchan_engine_side(struct appchan *a)
{
  fd_close(a->prog_rfd);
  if (!a->pair) fd_close(a->prog_wfd);
  a->prog_rfd = a->prog_wfd = -1;
  ndelay_on(a->rfd);
  if (!a->pair) ndelay_on(a->wfd);
}

void appchan_prog_side(struct appchan *a)
{
  fd_close(a->rfd);
  if (!a->pair) fd_close(a->wfd);
  a->rfd = a->wfd = a->pairfd = -1;
}

void appchan_close_write(struct appchan *a)
{
  if (a->wfd < 0) return;
  if (a->pair) shutdown(a->wfd, SHUT_WR);
  else fd_close(a->wfd);
  a->wfd = -1;
}

void appchan_close_read(struct appchan *a)
{
  if (a->rfd < 0) return;
  if (a->pair) shutdown(a->rfd, SHUT_RD);
  else fd_close(a->rfd);
  a->rfd = -1;
}

void appchan_close(struct appchan *a)
{
  if (a->pair) {
    /* One descriptor for both directions: closing it once ends both. */
    if (a->pairfd >= 0) fd_close(a->pairfd);
    a->rfd = a->wfd = a->pairfd = -1;
    return;
  }
  appchan_close_write(a);
  appchan_close_read(a);
}
