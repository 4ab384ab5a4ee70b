#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <skalibs/djbunix.h>
#include <skalibs/env.h>
#include <skalibs/exec.h>
#include <skalibs/types.h>
#include "envblock.h"
#include "progexec.h"

extern char **environ;

int progexec_fd_lowest(int fd)
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

/* The descriptor variables are set once the descriptors are where a shell
   can reach them; with no TLS to offer, closed and unset. */
static int ucspitls_fds(stralloc *msg, int offer, int ctl, int rfd, int wfd)
{
  static char const *const names[3] = { "SSLCTLFD", "SSLREADFD", "SSLWRITEFD" };
  int fds[3], i;
  if (!offer) {
    if (ctl >= 0) fd_close(ctl);
    if (rfd >= 0) fd_close(rfd);
    if (wfd >= 0 && wfd != rfd) fd_close(wfd);
    for (i = 0; i < 3; i++) if (!env_addmodif(msg, names[i], 0)) return -1;
    return 0;
  }
  fds[0] = progexec_fd_lowest(ctl);
  fds[1] = progexec_fd_lowest(rfd);
  fds[2] = wfd == rfd ? fds[1] : progexec_fd_lowest(wfd);
  for (i = 0; i < 3; i++) {
    if (fds[i] < 0 || uncoe(fds[i]) < 0) return -1;
    if (!add_fd_var(msg, names[i], fds[i])) return -1;
  }
  return 0;
}

int progexec_run(char const *const *argv, stralloc *msg, int ctl, int rfd, int wfd)
{
  char const **envp;
  long n;
  if (!msg->len || (msg->s[0] != '+' && msg->s[0] != '-')) { errno = EPROTO; return -1; }
  n = envblock_check(msg->s + 1, msg->len - 1);
  if (n < 0) { errno = EPROTO; return -1; }
  msg->len--;                      /* reopen the block before its terminator */
  if (ctl >= 0 || msg->s[0] == '-') {
    if (ucspitls_fds(msg, msg->s[0] == '+', ctl, rfd, wfd) < 0) return -1;
    n += 3;
  }
  envp = malloc((env_len((char const *const *)environ) + (size_t)n + 1) * sizeof *envp);
  if (!envp) return -1;
  envblock_merge(envp, (char const *const *)environ, msg->s + 1, msg->len - 1);
  exec_ae(argv[0], argv, envp);
  free(envp);
  return -1;
}
