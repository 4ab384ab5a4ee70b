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
#include "prog.h"

extern char **environ;

/* Move a descriptor to the lowest free number from 3 up: shells can only
   redirect descriptors 0 to 9, and programs written for UCSPI-TLS in sh
   should be able to use SSLCTLFD & co. -1 on failure. */
static int fd_lowest(int fd)
{
  int nfd = fcntl(fd, F_DUPFD, 3);
  if (nfd < 0) return -1;
  if (nfd > fd) { fd_close(nfd); return fd; }
  fd_close(fd);
  return nfd;
}

static int add_fd_var(stralloc *sa, char const *name, int fd)
{
  char fmt[UINT_FMT];
  fmt[uint_fmt(fmt, (unsigned int)fd)] = 0;
  return env_addmodif(sa, name, fmt);
}

/* Delayed mode: the descriptor variables are the child's to set, once it
   has put the descriptors where a shell can reach them; or, when the engine
   has no TLS to offer, to close and unset. */
static int ucspitls_fds(stralloc *msg, int offer, int ctl, int rfd, int wfd)
{
  static char const *const names[3] = { "SSLCTLFD", "SSLREADFD", "SSLWRITEFD" };
  int fds[3], i;
  if (!offer) {
    fd_close(ctl); fd_close(rfd);
    if (wfd != rfd) fd_close(wfd);
    for (i = 0; i < 3; i++) if (!env_addmodif(msg, names[i], 0)) return -1;
    return 0;
  }
  fds[0] = fd_lowest(ctl);
  fds[1] = fd_lowest(rfd);
  fds[2] = wfd == rfd ? fds[1] : fd_lowest(wfd);
  for (i = 0; i < 3; i++) {
    if (fds[i] < 0 || uncoe(fds[i]) < 0) return -1;
    if (!add_fd_var(msg, names[i], fds[i])) return -1;
  }
  return 0;
}

/* The child: wait for the start message "+" or "-", then an environment
   block; apply it and exec prog. An exec failure goes back to the engine
   as its errno on the start channel (which a successful exec closes). */
static void child_main(int start_fd, char const *const *argv, struct prog_fds const *f, int rfd, int wfd) gccattr_noreturn;
static void child_main(int start_fd, char const *const *argv, struct prog_fds const *f, int rfd, int wfd)
{
  stralloc msg = STRALLOC_ZERO;
  char const **envp;
  long n;
  int e;
  if (!slurp(&msg, start_fd)) _exit(EXIT_TEMP);
  if (!msg.len) _exit(0);          /* the engine refused the session: prog never runs */
  n = envblock_check(msg.s + 1, msg.len - 1);
  if (n < 0) _exit(EXIT_TEMP);
  msg.len--;                       /* reopen the block before its terminator */
  if (f->ctl >= 0) {
    if (ucspitls_fds(&msg, msg.s[0] == '+', f->ctl, rfd, wfd) < 0) _exit(EXIT_TEMP);
    n += 3;
  }
  envp = malloc((env_len((char const *const *)environ) + (size_t)n + 1) * sizeof *envp);
  if (!envp) _exit(EXIT_TEMP);
  envblock_merge(envp, (char const *const *)environ, msg.s + 1, msg.len - 1);
  exec_ae(argv[0], argv, envp);
  e = errno;
  allwrite(start_fd, (char const *)&e, sizeof e);
  _exit(e == ENOENT ? 127 : 126);
}

int prog_fork(struct prog *p, char const *const *argv, struct appchan *app, struct prog_fds const *f, struct reason *r)
{
  int start[2];
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
  int e;
  size_t got;
  if (allwrite(p->start_fd, &flag, 1) < 1 || allwrite(p->start_fd, block->s, block->len) < block->len
      || allwrite(p->start_fd, "", 1) < 1) {
    reason_sys(r, EXIT_TEMP, "unable to start ", progname, 0);
    prog_cancel(p);
    return -1;
  }
  shutdown(p->start_fd, SHUT_WR);
  got = allread(p->start_fd, (char *)&e, sizeof e);
  prog_cancel(p);
  if (got == sizeof e) {
    errno = e;
    reason_sys(r, EXIT_TEMP, "unable to exec ", progname, 0);
    return -1;
  }
  return 0;
}

void prog_cancel(struct prog *p)
{
  if (p->start_fd >= 0) fd_close(p->start_fd);
  p->start_fd = -1;
}

int prog_reap(struct prog *p)
{
  if (!p->reaped && p->pid > 0 && wait_pid_nohang(p->pid, &p->wstat) == p->pid) p->reaped = 1;
  return p->reaped;
}

void prog_wait(struct prog *p)
{
  if (!p->reaped && p->pid > 0 && wait_pid(p->pid, &p->wstat) == p->pid) p->reaped = 1;
}

/* The trap is set before the first look, so a SIGCHLD cannot fall
   between the look and the wait. */
int prog_wait_until(struct prog *p, tain const *deadline)
{
  int fd;
  if (p->reaped) return 1;
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
