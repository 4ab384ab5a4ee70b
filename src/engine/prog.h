/* prog: the process that becomes the application. The engine forks it
   before it loads any key (in chained mode; a listener's fork already holds
   them, and the exec drops them); it waits on the start channel for one
   message, applies the environment changes it carries, and execs prog.
   A channel closed without a message means "never run prog". */
#ifndef UCSPITLS_PROG_H
#define UCSPITLS_PROG_H

#include <sys/types.h>
#include <skalibs/stralloc.h>
#include <skalibs/tai.h>
#include "appchan.h"
#include "reason.h"

struct prog {
  pid_t pid;
  int start_fd;          /* engine's end of the start channel, -1 once used */
  int wstat;
  int reaped;
  /* A remote prog (tlsd): prog runs in the front end's process, reached
     over sock; its ends of the channel wait in fds until the start
     message takes them there. */
  int sock;              /* -1: local prog */
  int fds[4];            /* SSLCTLFD's end (delayed), prog's read, prog's write end, start channel */
  unsigned int nfds;
};

#define PROG_ZERO { 0, -1, 0, 0, -1, { -1, -1, -1, -1 }, 0 }

/* tlsd: every prog of this process from now on is remote: prog_fork
   forks nothing, prog_start sends prog's descriptors and the start
   message over sock to the front end (tlsdserver), which execs prog in
   its own process, and prog's exit is the end of sock. */
extern void prog_remote(int sock);
/* 1 when the prog is remote: it has no exit status here. */
extern int prog_is_remote(struct prog const *);

/* How prog's descriptors are set up. Immediate mode: prog's ends of the
   channel become plain_rfd / plain_wfd (0/1, or 6/7 for tlsclient).
   Delayed mode (ctl >= 0): the network stays where it is, and ctl plus
   prog's ends of the channel become SSLCTLFD, SSLREADFD, SSLWRITEFD. */
struct prog_fds {
  int plain_rfd, plain_wfd;
  int ctl, ctl_engine;   /* prog's end of the control socket, and the engine's (closed in the child) */
};

/* Fork the waiting child. 0 ok, -1 (r). */
extern int prog_fork(struct prog *, char const *const *argv, struct appchan *, struct prog_fds const *, struct reason *r);

/* Send the start message (an environment block without terminator) and
   wait until prog is executed. offer_tls 0 (delayed mode only): prog runs
   without the UCSPI-TLS descriptors, which are closed and unset. 0 prog
   runs; -1 prog could not be executed or the child is gone (r, code 111). */
extern int prog_start(struct prog *, stralloc const *block, int offer_tls, char const *progname, struct reason *r);
/* prog never runs. */
extern void prog_cancel(struct prog *);
/* prog never runs, and its process exits with code (a remote prog's front
   end; a local child exits 0, the engine has the code). */
extern void prog_refuse(struct prog *, int code);

/* 1 when prog has exited (status in wstat, -1 for a remote prog), 0 not yet. */
extern int prog_reap(struct prog *);
extern void prog_wait(struct prog *);
/* Wait for prog's exit until the deadline; 1 exited, 0 not yet. */
extern int prog_wait_until(struct prog *, tain const *deadline);

#endif
