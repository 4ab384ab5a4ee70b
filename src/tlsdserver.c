/* tlsdserver: tlsd's front end under tcpserver. It links no TLS library
   (it starts in a fraction of a millisecond, and an OpenSSL update needs
   no relink of it): it passes the network connection and the
   per-connection environment to tlsd, receives prog's descriptors and
   environment, and execs prog in its own process, so that prog stays
   tcpserver's child. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/sgetopt.h>
#include <skalibs/socket.h>
#include <skalibs/strerr.h>
#include <skalibs/stralloc.h>
#include "exitcodes.h"
#include <skalibs/env.h>
#include "envblock.h"
#include "fdmsg.h"
#include "progexec.h"
#include "tlsconf.h"
#include "tlsdproto.h"

extern char **environ;

char const *PROG = "tlsdserver";
#define USAGE "tlsdserver [ -n ] socket prog... (ucspi-tls " UCSPITLS_VERSION ")"

/* Above what a shell can redirect (0 to 9): SSLCTLFD and the two pipes
   take 3, 4, 5 as with tlsserver. The socket stays open across prog's
   exec: its end tells tlsd that prog has exited. */
#define SOCK_FD_MIN 10

/* Delayed mode without tlsd: prog runs on the plaintext connection without
   the UCSPI-TLS descriptors (it offers no STARTTLS), as tlsserver -n does
   when its configuration cannot be loaded. No SSL_* variable from the
   outside reaches prog, nor a variable naming tlsd's files. */
static void run_without_tls(char const *const *argv, int sock) gccattr_noreturn;
static void run_without_tls(char const *const *argv, int sock)
{
  stralloc m = STRALLOC_ZERO;
  char const *const *v;
  char **ep;
  if (sock >= 0) fd_close(sock);
  if (!stralloc_catb(&m, "-", 1)) strerr_diefu1sys(EXIT_TEMP, "start prog");
  for (v = tlsconf_private_vars; *v; v++) if (!env_addmodif(&m, *v, 0)) strerr_diefu1sys(EXIT_TEMP, "start prog");
  for (ep = environ; *ep; ep++) {
    if (strncmp(*ep, "SSL_", 4)) continue;
    {
      char const *eq = strchr(*ep, '=');
      if (!stralloc_catb(&m, *ep, eq ? (size_t)(eq - *ep) : strlen(*ep)) || !stralloc_0(&m))
        strerr_diefu1sys(EXIT_TEMP, "start prog");
    }
  }
  if (!envblock_end(&m)) strerr_diefu1sys(EXIT_TEMP, "start prog");
  progexec_run(argv, &m, -1, -1, -1);
  strerr_dief3sys(EXIT_TEMP, "unable to exec ", argv[0], ": ");
}

/* tlsd is not there, or refused: one line naming the socket. */
static void unavailable(int delayed, int code, char const *path, char const *what, char const *const *argv, int sock) gccattr_noreturn;
static void unavailable(int delayed, int code, char const *path, char const *what, char const *const *argv, int sock)
{
  if (!delayed) strerr_dief4x(code, path, ": ", what, ": prog not run");
  strerr_warnw4x(path, ": ", what, ": prog runs without TLS");
  run_without_tls(argv, sock);
}

int main(int argc, char const *const *argv)
{
  stralloc m = STRALLOC_ZERO;
  subgetopt l = SUBGETOPT_ZERO;
  int delayed = 0, sock, fds[FDMSG_MAXFDS], net[2] = { 0, 1 };
  unsigned int nfds;
  char const *path;
  int got, sent;

  for (;;) {
    int opt = subgetopt_r(argc, argv, "n", &l);
    if (opt == -1) break;
    if (opt == 'n') delayed = 1;
    else strerr_dieusage(EXIT_USAGE, USAGE);
  }
  argc -= l.ind; argv += l.ind;
  if (argc < 2) strerr_dieusage(EXIT_USAGE, USAGE);
  /* qmail-tls's per-client switch to SMTPS (tcprules): immediate mode,
     as tlsserver -n does with it. */
  {
    char const *smtps = getenv("SMTPS");
    if (smtps && *smtps) delayed = 0;
  }
  path = argv[0]; argv++;
  if (fcntl(0, F_GETFD) < 0 || fcntl(1, F_GETFD) < 0 || isatty(0))
    strerr_dief1x(EXIT_USAGE, "descriptors 0 and 1 must be the network connection: run tlsdserver under tcpserver");

  sock = ipc_stream_b();
  if (sock < 0) unavailable(delayed, EXIT_TEMP, path, "unable to create a socket", argv, -1);
  if (sock < SOCK_FD_MIN) {
    int s2 = fcntl(sock, F_DUPFD, SOCK_FD_MIN);
    if (s2 >= 0) { fd_close(sock); sock = s2; }
  }
  if (!ipc_connect(sock, path)) {
    char const *e = strerror(errno);
    stralloc w = STRALLOC_ZERO;
    if (stralloc_cats(&w, "unable to connect: ") && stralloc_cats(&w, e) && stralloc_0(&w)) e = w.s;
    unavailable(delayed, EXIT_TEMP, path, e, argv, sock);
  }
  if (!tlsdproto_request(&m, delayed, argv[0], (char const *const *)environ)) unavailable(delayed, EXIT_TEMP, path, "out of memory", argv, sock);
  /* A refusal (uid, busy) may be sent and the socket closed before the
     request is read: the answer is read even when the send failed. */
  sent = fdmsg_send(sock, m.s, m.len, net, 2) >= 0;
  got = fdmsg_recv(sock, &m, fds, &nfds, 0);
  if (got <= 0 || (!sent && m.s[0] != '!'))
    unavailable(delayed, EXIT_TEMP, path, !sent ? "unable to send the connection" : got ? "unable to read tlsd's answer" : "tlsd closed the connection", argv, sock);
  if (m.s[0] == '!') {
    int code = m.len > 1 ? (unsigned char)m.s[1] : EXIT_TEMP;
    if (m.len > 2 && stralloc_0(&m)) unavailable(delayed, code, path, m.s + 2, argv, sock);
    /* tlsd logged why (a handshake that failed): its exit code is ours. */
    if (!delayed) _exit(code);
    unavailable(delayed, EXIT_TEMP, path, "session refused", argv, sock);
  }
  if (nfds != (delayed ? 4u : 3u)) unavailable(delayed, EXIT_TEMP, path, "malformed answer from tlsd", argv, sock);

  if (!delayed) {
    /* prog's plaintext channel replaces the network on 0 and 1. */
    if (fd_copy(0, fds[0]) < 0 || fd_copy(1, fds[1]) < 0) strerr_diefu1sys(EXIT_TEMP, "set up descriptors");
    fd_close(fds[0]); fd_close(fds[1]);
    progexec_run(argv, &m, -1, -1, -1);
  } else progexec_run(argv, &m, fds[0], fds[1], fds[2]);
  {
    int e = errno;
    allwrite(fds[delayed ? 3 : 2], (char const *)&e, sizeof e);
    errno = e;
  }
  strerr_dief3sys(EXIT_TEMP, "unable to exec ", argv[0], ": ");
}
