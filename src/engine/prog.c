#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/env.h>
#include <skalibs/exec.h>
#include <skalibs/iopause.h>
#include <skalibs/selfpipe.h>
#include <skalibs/sig.h>
#include <skalibs/socket.h>
#include <skalibs/types.h>
#include "exitcodes.h"
#include "envblock.h"
#include "fdmsg.h"
#include "progexec.h"
#include "prog.h"

extern char **environ;

/* The child: wait for the start message "+" or "-", then an environment
   block; apply it and exec prog. An exec failure goes back to the engine
   as its errno on the start channel (which a successful exec closes). */
static void child_main(int start_fd, char const *const *argv, struct prog_fds const *f, int rfd, int wfd) gccattr_noreturn;
static void child_main(int start_fd, char const *const *argv, struct prog_fds const *f, int rfd, int wfd)
{
  stralloc msg = STRALLOC_ZERO;
  int e;
  if (!slurp(&msg, start_fd)) _exit(EXIT_TEMP);
  if (!msg.len) _exit(0);          /* the engine refused the session: prog never runs */
  progexec_run(argv, &msg, f->ctl, rfd, wfd);
  if (errno == EPROTO) _exit(EXIT_TEMP);
  e = errno;
  allwrite(start_fd, (char const *)&e, sizeof e);
  _exit(e == ENOENT ? 127 : 126);
}


/* tlsd's remote prog. */
static int remote_sock = -1;

void prog_remote(int sock) { remote_sock = sock; }
int prog_is_remote(struct prog const *p) { return p->sock >= 0; }

static void remote_close_fds(struct prog *p)
{
  unsigned int i;
  for (i = 0; i < p->nfds; i++) fd_close(p->fds[i]);
  p->nfds = 0;
}

/* The engine closes its copies of prog's ends right after the fork: the
   remote prog keeps its own until the start message carries them. */
static int remote_fork(struct prog *p, struct appchan *app, struct prog_fds const *f, struct reason *r)
{
  int start[2], fd, i;
  int const want[3] = { f->ctl, app->prog_rfd, app->prog_wfd };
  p->nfds = 0;
  for (i = 0; i < 3; i++) {
    if (want[i] < 0) continue;
    fd = fcntl(want[i], F_DUPFD_CLOEXEC, 0);
    if (fd < 0) goto fail;
    p->fds[p->nfds++] = fd;
  }
  if (ipc_pair_coe(start) < 0) goto fail;
  p->fds[p->nfds++] = start[1];
  p->start_fd = start[0];
  p->sock = remote_sock;
  p->pid = 0;
  p->reaped = 0;
  return 0;
 fail:
  reason_sys(r, EXIT_TEMP, "unable to prepare prog's descriptors", 0, 0);
  remote_close_fds(p);
  return -1;
}

/* The front end gets prog's ends and the start channel's other end
   (close-on-exec there: its EOF says prog was executed, or an errno says
   it could not be). */
/* After the start message: the child's exec closes the start channel;
   a failed exec sends its errno there first. */
static int exec_result(struct prog *p, char const *progname, struct reason *r)
{
  int e;
  size_t got = allread(p->start_fd, (char *)&e, sizeof e);
  prog_cancel(p);
  if (got == sizeof e) {
    errno = e;
    reason_sys(r, EXIT_TEMP, "unable to exec ", progname, 0);
    return -1;
  }
  return 0;
}

static int remote_start(struct prog *p, stralloc const *block, int offer_tls, char const *progname, struct reason *r)
{
  stralloc m = STRALLOC_ZERO;
  int ok;
  ok = stralloc_catb(&m, offer_tls ? "+" : "-", 1) && stralloc_catb(&m, block->s, block->len) && stralloc_0(&m)
    && fdmsg_send(p->sock, m.s, m.len, p->fds, p->nfds) >= 0;
  stralloc_free(&m);
  remote_close_fds(p);
  if (!ok) {
    reason_sys(r, EXIT_TEMP, "unable to start ", progname, " in the front end");
    prog_cancel(p);
    return -1;
  }
  return exec_result(p, progname, r);
}

/* The front end's socket ends when prog (which holds it across the exec)
   exits: read it to EOF, until the deadline (NULL: none). */
static int remote_wait(struct prog *p, tain const *deadline)
{
  char buf[512];
  if (p->reaped) return 1;
  for (;;) {
    ssize_t n = recv(p->sock, buf, sizeof buf, MSG_DONTWAIT);
    if (!n || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
    if (n < 0 && errno == EAGAIN) {
      iopause_fd x = { .fd = p->sock, .events = IOPAUSE_READ };
      int k;
      tain_now_g();
      k = iopause_g(&x, 1, deadline ? deadline : &tain_infinite);
      if (!k) return 0;
      if (k < 0 && errno != EINTR) break;
    }
  }
  p->reaped = 1;
  p->wstat = -1;
  return 1;
}

void prog_refuse(struct prog *p, int code)
{
  if (prog_is_remote(p) && p->start_fd >= 0) {
    char m[2] = { '!', (char)code };
    remote_close_fds(p);
    fdmsg_send(p->sock, m, 2, 0, 0);
  }
  prog_cancel(p);
}

int prog_fork(struct prog *p, char const *const *argv, struct appchan *app, struct prog_fds const *f, struct reason *r)
{
  int start[2];
  if (remote_sock >= 0) return remote_fork(p, app, f, r);
  if (ipc_pair_coe(start) < 0) { reason_sys(r, EXIT_TEMP, "unable to create the start channel", 0, 0); return -1; }
  p->pid = fork();
  if (p->pid < 0) {
    reason_sys(r, EXIT_TEMP, "unable to fork", 0, 0);
    fd_close(start[0]); fd_close(start[1]);
    return -1;
  }
  if (!p->pid) {
    int rfd = app->prog_rfd, wfd = app->prog_wfd;
    sig_restore(SIGPIPE);
    /* The engine's descriptors are close-on-exec, but close them now so
       that they neither keep EOFs away nor take the low numbers. */
    fd_close(start[0]);
    appchan_prog_side(app);
    if (f->ctl_engine >= 0) fd_close(f->ctl_engine);
    if (f->ctl < 0) {
      if (fd_copy(f->plain_rfd, rfd) < 0 || fd_copy(f->plain_wfd, wfd) < 0) _exit(EXIT_TEMP);
    }
    child_main(start[1], argv, f, rfd, wfd);
  }
  fd_close(start[1]);
  p->start_fd = start[0];
  p->reaped = 0;
  return 0;
}

int prog_start(struct prog *p, stralloc const *block, int offer_tls, char const *progname, struct reason *r)
{
  char flag = offer_tls ? '+' : '-';
  if (prog_is_remote(p)) return remote_start(p, block, offer_tls, progname, r);
  if (allwrite(p->start_fd, &flag, 1) < 1 || allwrite(p->start_fd, block->s, block->len) < block->len
      || allwrite(p->start_fd, "", 1) < 1) {
    reason_sys(r, EXIT_TEMP, "unable to start ", progname, 0);
    prog_cancel(p);
    return -1;
  }
  shutdown(p->start_fd, SHUT_WR);
  return exec_result(p, progname, r);
}

void prog_cancel(struct prog *p)
{
  remote_close_fds(p);
  if (p->start_fd >= 0) fd_close(p->start_fd);
  p->start_fd = -1;
}

int prog_reap(struct prog *p)
{
  if (prog_is_remote(p)) return remote_wait(p, &tain_zero);
  if (!p->reaped && p->pid > 0 && wait_pid_nohang(p->pid, &p->wstat) == p->pid) p->reaped = 1;
  return p->reaped;
}

void prog_wait(struct prog *p)
{
  if (prog_is_remote(p)) { remote_wait(p, 0); return; }
  if (!p->reaped && p->pid > 0 && wait_pid(p->pid, &p->wstat) == p->pid) p->reaped = 1;
}

/* The trap is set before the first look, so a SIGCHLD cannot fall
   between the look and the wait. */
int prog_wait_until(struct prog *p, tain const *deadline)
{
  int fd;
  if (p->reaped) return 1;
  if (prog_is_remote(p)) return remote_wait(p, deadline);
  fd = selfpipe_init();
  if (fd < 0) return prog_reap(p);
  if (selfpipe_trap(SIGCHLD)) {
    while (!prog_reap(p)) {
      iopause_fd x = { .fd = fd, .events = IOPAUSE_READ };
      if (iopause_g(&x, 1, deadline) <= 0) break;
      while (selfpipe_read() > 0) ;
    }
  }
  selfpipe_finish();
  return p->reaped;
}
