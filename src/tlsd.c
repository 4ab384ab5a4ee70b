/* tlsd: the TLS configuration and keys of tlsserver, loaded once and held
   by one supervised process. tlsdserver (under tcpserver) connects to its
   unix socket and passes the network connection; each connection is one
   fork of tlsd running the engine, with a remote prog: prog's descriptors
   and environment go back to tlsdserver, which execs prog in its own
   process (so prog stays tcpserver's child and never runs under tlsd's
   uid). The daemon itself never reads network data. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/ip46.h>
#include <skalibs/posixplz.h>
#include <skalibs/selfpipe.h>
#include <skalibs/sgetopt.h>
#include <skalibs/sig.h>
#include <skalibs/socket.h>
#include <skalibs/strerr.h>
#include <skalibs/stralloc.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "exitcodes.h"
#include "engine.h"
#include "envblock.h"
#include "fdmsg.h"
#include "options.h"
#include "prog.h"
#include "tlsctx.h"
#include "tlsdproto.h"

char const *PROG = "tlsd";
#define USAGE "tlsd [ -F ] [ -v level ] [ -c certfile ] [ -k keyfile ] [ -a cafile ] [ -A cadir ] [ -r crlfile ] [ -y | -Y ] [ -C ciphers ] [ -p protocols ] [ -K handshake_ms ] [ -T idle_ms ] [ -S | -s ] [ -u uid -g gid ] [ -m maxconn ] [ -U uid,uid,... ] socket (ucspi-tls " UCSPITLS_VERSION ")"

#define MAX_UIDS 64
/* The front end sends its request as soon as it is connected. */
#define REQUEST_MS 10000

static uid_t allowed[MAX_UIDS];
static unsigned int nallowed;

static void scan_uids(char const *s)
{
  while (*s) {
    uid_t u;
    size_t n = uid_scan(s, &u);
    if (!n || (s[n] && s[n] != ',')) strerr_dief2x(EXIT_USAGE, "invalid uid list: ", s);
    if (nallowed == MAX_UIDS) strerr_dief1x(EXIT_USAGE, "too many uids for -U");
    allowed[nallowed++] = u;
    s += n + !!s[n];
  }
}

static int uid_allowed(uid_t u)
{
  unsigned int i;
  for (i = 0; i < nallowed; i++) if (allowed[i] == u) return 1;
  return 0;
}

/* A refusal before any session: one line for the front end to log. */
static void refuse_front(int s, char const *text)
{
  stralloc m = STRALLOC_ZERO;
  if (stralloc_catb(&m, "!", 1) && stralloc_catb(&m, "\157", 1) && stralloc_cats(&m, text))
    fdmsg_send(s, m.s, m.len, 0, 0);
  stralloc_free(&m);
}

static void set_env(char const *name, char const *value)
{
  if ((value ? setenv(name, value, 1) : unsetenv(name)) < 0) strerr_dief1x(EXIT_TEMP, "out of memory");
}

/* What tcpserver (and its rules) set for this connection, as the front
   end saw it: only the per-connection variables, never the daemon's
   configuration. The daemon's own values of these go first. */
static void apply_front_env(char const *block, size_t len)
{
  extern char **environ;
  size_t i;
  for (;;) {
    char **ep;
    for (ep = environ; *ep; ep++) if (tlsdproto_passed(*ep)) break;
    if (!*ep) break;
    {
      char name[256];
      char const *eq = strchr(*ep, '=');
      size_t n = eq ? (size_t)(eq - *ep) : strlen(*ep);
      if (n >= sizeof name) n = sizeof name - 1;
      memcpy(name, *ep, n); name[n] = 0;
      if (unsetenv(name) < 0) strerr_dief1x(EXIT_TEMP, "out of memory");
    }
  }
  for (i = 0; i < len; i += strlen(block + i) + 1) {
    char *eq = strchr(block + i, '=');
    if (!eq || !tlsdproto_passed(block + i)) continue;
    *eq = 0;
    set_env(block + i, eq + 1);
    *eq = '=';
  }
}

/* The addresses come from the passed socket itself, never from what the
   front end says. tcpserver's form: v4 clients of a v6 socket as v4. */
static void socket_env(int fd, int remote)
{
  static unsigned char const mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  ip46 ip;
  uint16_t port;
  char ipfmt[IP46_FMT], portfmt[UINT16_FMT];
  char const *vip = remote ? "TCPREMOTEIP" : "TCPLOCALIP", *vport = remote ? "TCPREMOTEPORT" : "TCPLOCALPORT";
  if ((remote ? socket_remote46(fd, &ip, &port) : socket_local46(fd, &ip, &port)) < 0) {
    set_env(vip, 0); set_env(vport, 0);
    return;
  }
  if (ip46_is6(&ip) && !memcmp(ip.ip, mapped, 12)) ipfmt[ip4_fmt(ipfmt, ip.ip + 12)] = 0;
  else ipfmt[ip46_fmt(ipfmt, &ip)] = 0;
  portfmt[uint16_fmt(portfmt, port)] = 0;
  set_env(vip, ipfmt); set_env(vport, portfmt);
}

static void connection_child(int s, uid_t uid, struct tlsctx *pre, struct tlsconf const *conf,
                             struct tlsconf const *opts) gccattr_noreturn;
static void connection_child(int s, uid_t uid, struct tlsctx *pre, struct tlsconf const *conf,
                             struct tlsconf const *opts)
{
  static stralloc req = STRALLOC_ZERO;
  struct tlsconf c = *conf;
  struct tlsdproto_request q;
  struct reason r;
  char const *argv[2];
  char ufmt[UID_FMT];
  int fds[FDMSG_MAXFDS];
  unsigned int nfds;
  tain deadline;
  int got;

  ufmt[uid_fmt(ufmt, uid)] = 0;
  tain_now_set_stopwatch_g();
  tain_addsec_g(&deadline, REQUEST_MS / 1000);
  got = fdmsg_recv(s, &req, fds, &nfds, &deadline);
  if (got <= 0) {
    if (got < 0) strerr_warnwu3sys("read the request of uid ", ufmt, "'s front end");
    _exit(got < 0 ? EXIT_TEMP : 0);
  }
  if (tlsdproto_parse_request(req.s, req.len, nfds, &q) < 0) {
    strerr_warnw3x("malformed request from uid ", ufmt, "'s front end");
    refuse_front(s, "malformed request");
    _exit(EXIT_PROTOCOL);
  }
  apply_front_env(q.env, q.envlen);
  if (fd_copy(0, fds[0]) < 0 || fd_copy(1, fds[1]) < 0) strerr_diefu1sys(EXIT_TEMP, "set up descriptors");
  fd_close(fds[0]); fd_close(fds[1]);
  socket_env(0, 1);
  socket_env(0, 0);
  c.delayed = q.delayed;
  if (tlsctx_per_client(pre, &c, opts, &r) < 0) {
    refuse_front(s, r.text);
    strerr_dief1x(r.code, r.text);
  }
  prog_remote(s);
  argv[0] = q.progname; argv[1] = 0;
  engine_main(&c, argv, pre, 0);
}

/* A session's fork that died of a signal: the daemon goes on. */
static void reap(unsigned int *active)
{
  int wstat;
  pid_t pid;
  while ((pid = wait_nohang(&wstat)) > 0) {
    if (*active) (*active)--;
    if (WIFSIGNALED(wstat)) {
      char p[PID_FMT], sig[UINT_FMT];
      p[pid_fmt(p, pid)] = 0;
      sig[uint_fmt(sig, (unsigned int)WTERMSIG(wstat))] = 0;
      strerr_warnw4x("session pid ", p, " killed by signal ", sig);
    }
  }
}

/* Descriptors 0, 1 and 2 open, so that no socket lands on them. */
static void std_fds(void)
{
  int fd;
  while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2) ;
  if (fd > 2) fd_close(fd);
}

int main(int argc, char const *const *argv)
{
  struct tlsconf conf, options_only;
  struct tlsctx pre;
  struct reason r;
  subgetopt l = SUBGETOPT_ZERO;
  unsigned int maxconn = 100, active = 0;
  char const *path;
  int lfd, sigfd;

  std_fds();
  tlsconf_init(&conf, 1);
  for (;;) {
    int opt = subgetopt_r(argc, argv, OPTIONS_COMMON "yYm:U:", &l);
    if (opt == -1) break;
    if (opt == 'n') strerr_dief1x(EXIT_USAGE, "-n is tlsdserver's option: the front end chooses the mode per connection");
    switch (options_common(&conf, opt, l.arg, &r)) {
      case 1: continue;
      case -1: strerr_dief1x(r.code, r.text);
    }
    switch (opt) {
      case 'y': conf.clientcert = CLIENTCERT_OPTIONAL; break;
      case 'Y': conf.clientcert = CLIENTCERT_REQUIRED; break;
      case 'm': if (!uint0_scan(l.arg, &maxconn) || !maxconn) strerr_dieusage(EXIT_USAGE, USAGE); break;
      case 'U': scan_uids(l.arg); break;
      default: strerr_dieusage(EXIT_USAGE, USAGE);
    }
  }
  argc -= l.ind; argv += l.ind;
  if (argc != 1) strerr_dieusage(EXIT_USAGE, USAGE);
  path = argv[0];
  if (!nallowed) { allowed[nallowed++] = getuid(); if (getuid()) allowed[nallowed++] = 0; }
  options_only = conf;
  tlsconf_from_env(&conf);
  if (options_check(&conf, &r) < 0) strerr_dief1x(r.code, r.text);

  sigfd = engine_keyholder_signals();
  if (tlsctx_load(&pre, &conf, &r) < 0) strerr_dief1x(r.code, r.text);
  if (pre.warning.text[0]) strerr_warnw1x(pre.warning.text);

  lfd = ipc_stream_nbcoe();
  if (lfd < 0) strerr_diefu1sys(EXIT_TEMP, "create a socket");
  /* Who may connect is SO_PEERCRED's to say (-U); the directory, which the
     daemon owns, keeps anyone else from replacing the socket. */
  if (ipc_bind_reuse_perms(lfd, path, 0777) < 0) strerr_diefu2sys(EXIT_TEMP, "bind to ", path);
  if (ipc_listen(lfd, 128) < 0) strerr_diefu2sys(EXIT_TEMP, "listen on ", path);
  if (conf.verbosity >= 1) strerr_warni2x("listening on ", path);

  for (;;) {
    iopause_fd x[2];
    x[0].fd = sigfd; x[0].events = IOPAUSE_READ;
    x[1].fd = lfd; x[1].events = IOPAUSE_READ;
    if (iopause_g(x, 2, &tain_infinite) < 0 && errno != EINTR) strerr_diefu1sys(EXIT_TEMP, "iopause");

    if (x[0].revents) {
      int sig;
      while ((sig = selfpipe_read()) > 0) {
        if (sig == SIGCHLD) reap(&active);
        else if (sig == SIGHUP) {
          engine_reload(&conf, &pre);
        } else {
          if (conf.verbosity >= 1) strerr_warni1x("exiting: current sessions continue");
          _exit(0);
        }
      }
    }

    if (x[1].revents) {
      char buf[128];
      int trunc = 0;
      uid_t uid;
      gid_t gid;
      pid_t pid;
      int s = ipc_accept_nbcoe(lfd, buf, sizeof buf, &trunc);
      if (s < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) strerr_warnwu1sys("accept");
        continue;
      }
      if (getpeereid(s, &uid, &gid) < 0) { strerr_warnwu1sys("read the peer's credentials"); fd_close(s); continue; }
      if (!uid_allowed(uid)) {
        char u[UID_FMT];
        u[uid_fmt(u, uid)] = 0;
        strerr_warnw3x("deny uid=", u, " reason=\"not in the allowed uids (-U)\"");
        refuse_front(s, "this uid is not allowed to use tlsd");
        fd_close(s);
        continue;
      }
      if (active >= maxconn) {
        char a[UINT_FMT];
        a[uint_fmt(a, active)] = 0;
        strerr_warnw3x("busy active=", a, " reason=\"concurrency limit (-m) reached\"");
        refuse_front(s, "busy: the concurrency limit (-m) is reached");
        fd_close(s);
        continue;
      }
      pid = fork();
      if (pid < 0) { strerr_warnwu1sys("fork"); refuse_front(s, "unable to fork"); fd_close(s); continue; }
      if (!pid) {
        fd_close(lfd);
        selfpipe_finish();
        connection_child(s, uid, &pre, &conf, &options_only);
      }
      fd_close(s);
      active++;
    }
  }
}
