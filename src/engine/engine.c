#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/env.h>
#include <skalibs/exec.h>
#include <skalibs/iopause.h>
#include <skalibs/selfpipe.h>
#include <skalibs/strerr.h>
#include <skalibs/stralloc.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "engine.h"
#include "envblock.h"
#include "peerreport.h"

extern char **environ;

static void die_nomem(void) { strerr_dief1x(EXIT_TEMP, "out of memory"); }

static int fd_is_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

static void add_fd_var(stralloc *sa, char const *name, int fd)
{
  char fmt[UINT_FMT];
  fmt[uint_fmt(fmt, (unsigned int)fd)] = 0;
  if (!envblock_add(sa, name, fmt)) die_nomem();
}

/* Unset entries for everything prog must not inherit: the variables naming
   key, certificate and privilege settings, and, when set, stale SSL_*. */
static void add_private_unsets(stralloc *sa, int with_ssl_vars)
{
  char const *const *v;
  char **ep;
  for (v = tlsconf_private_vars; *v; v++) if (!envblock_add(sa, *v, 0)) die_nomem();
  for (ep = environ; *ep; ep++) {
    if (!strncmp(*ep, "CERTFILE:", 9) || !strncmp(*ep, "KEYFILE:", 8)) {
      char const *eq = strchr(*ep, '=');
      size_t len = eq ? (size_t)(eq - *ep) : strlen(*ep);
      if (!stralloc_catb(sa, *ep, len) || !stralloc_0(sa)) die_nomem();
    }
  }
  if (with_ssl_vars) {
    char const *const *lists[3] = { peerreport_common_vars, peerreport_client_vars, peerreport_server_vars };
    int i;
    for (i = 0; i < 3; i++) for (v = lists[i]; *v; v++) if (!envblock_add(sa, *v, 0)) die_nomem();
  }
}

/* The child: wait for the start message, then become prog. It was forked
   before any key was loaded, and exec replaces it: prog never maps a key. */
/* Move a descriptor to the lowest free number from 3 up: shells can only
   redirect descriptors 0 to 9, and programs written for UCSPI-TLS in sh
   should be able to use SSLCTLFD & co. */
static int fd_lowest(int fd)
{
  int nfd = fcntl(fd, F_DUPFD, 3);
  if (nfd < 0) _exit(EXIT_TEMP);
  if (nfd > fd) { close(nfd); return fd; }
  close(fd);
  return nfd;
}

static void child_main(int start_fd, char const *const *argv, int const *ucspitls_fds) gccattr_noreturn;
static void child_main(int start_fd, char const *const *argv, int const *ucspitls_fds)
{
  stralloc msg = STRALLOC_ZERO;
  long n;
  for (;;) {
    ssize_t r;
    if (!stralloc_readyplus(&msg, 4096)) _exit(EXIT_TEMP);
    r = read(start_fd, msg.s + msg.len, 4096);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    msg.len += (size_t)r;
  }
  close(start_fd);
  n = envblock_check(msg.s, msg.len);
  if (n < 0) _exit(0);             /* the engine refused the session: prog never runs */
  if (ucspitls_fds) {
    /* Delayed mode: the descriptor variables are the child's to set, after
       it has put the descriptors where a shell can reach them. */
    static char const *const names[3] = { "SSLCTLFD", "SSLREADFD", "SSLWRITEFD" };
    int fds[3], i;
    fds[0] = fd_lowest(ucspitls_fds[0]);
    fds[1] = fd_lowest(ucspitls_fds[1]);
    fds[2] = ucspitls_fds[2] == ucspitls_fds[1] ? fds[1] : fd_lowest(ucspitls_fds[2]);
    msg.len--;                     /* reopen the block before its terminator */
    for (i = 0; i < 3; i++) add_fd_var(&msg, names[i], fds[i]);
    if (!envblock_end(&msg)) _exit(EXIT_TEMP);
    n += 3;
  }
  xmexec_afn(argv[0], argv, (char const *const *)environ, env_len((char const *const *)environ),
             msg.s, msg.len - 1, (size_t)n);
}

static void drop_privileges(struct tlsconf const *c)
{
  unsigned int u;
  if (c->chrootdir && (chdir(c->chrootdir) < 0 || chroot(".") < 0))
    strerr_dief3sys(EXIT_TEMP, "unable to chroot to ", c->chrootdir, "");
  if (c->gid) {
    gid_t g;
    if (!uint0_scan(c->gid, &u)) strerr_dief2x(EXIT_USAGE, "invalid gid: ", c->gid);
    g = (gid_t)u;
    if (setgroups(1, &g) < 0 || setgid(g) < 0) strerr_dief2sys(EXIT_TEMP, "unable to set gid ", c->gid);
  }
  if (c->uid) {
    if (!uint0_scan(c->uid, &u)) strerr_dief2x(EXIT_USAGE, "invalid uid: ", c->uid);
    if (setuid((uid_t)u) < 0) strerr_dief2sys(EXIT_TEMP, "unable to set uid ", c->uid);
  }
}

void engine_reap(struct engine *e)
{
  int wstat;
  if (e->sigfd >= 0) while (selfpipe_read() > 0) ;
  if (!e->child_reaped && wait_pid_nohang(e->child, &wstat) == e->child) {
    e->child_reaped = 1;
    e->child_status = wstat;
  }
}

static void wait_child(struct engine *e)
{
  int wstat;
  if (e->child_reaped) return;
  if (wait_pid(e->child, &wstat) == e->child) { e->child_reaped = 1; e->child_status = wstat; }
}

static void peer_string(struct engine const *e, stralloc *sa)
{
  char const *ip = getenv("TCPREMOTEIP"), *port = getenv("TCPREMOTEPORT");
  if (e->late_socket && e->late.host[0]) ip = e->late.host;
  if (!stralloc_cats(sa, ip ? ip : "-")) die_nomem();
  if (port && !e->late_socket && (!stralloc_catb(sa, ":", 1) || !stralloc_cats(sa, port))) die_nomem();
}

static void log_write(stralloc *sa)
{
  if (!stralloc_catb(sa, "\n", 1)) die_nomem();
  allwrite(2, sa->s, sa->len);
}

void engine_log_failure(struct engine *e, char const *what)
{
  stralloc sa = STRALLOC_ZERO;
  if (!stralloc_cats(&sa, PROG) || !stralloc_cats(&sa, e->conf->delayed ? ": warning: " : ": fatal: ")
      || !stralloc_cats(&sa, what) || !stralloc_cats(&sa, ": peer=")) die_nomem();
  peer_string(e, &sa);
  if (!stralloc_cats(&sa, " reason=") || !stralloc_cats(&sa, e->failure[0] ? e->failure : "unknown")) die_nomem();
  log_write(&sa);
  stralloc_free(&sa);
}

void engine_set_failure(struct engine *e, char const *why)
{
  if (e->net.err) why = strerror(e->net.err);
  if (!why || !*why) why = "unknown error";
  /* libtls words every handshake error as "handshake failed: ..." and the
     log line already says so. */
  if (!strncmp(why, "handshake failed: ", 18)) why += 18;
  strncpy(e->failure, why, sizeof e->failure - 1);
  e->failure[sizeof e->failure - 1] = 0;
}

/* -v 2: one line per step of a session, for debugging a setup. */
static void log_debug(struct engine *e, char const *what, char const *detail)
{
  stralloc sa = STRALLOC_ZERO;
  if (e->conf->verbosity < 2) return;
  if (!stralloc_cats(&sa, PROG) || !stralloc_cats(&sa, ": debug: ") || !stralloc_cats(&sa, what)
      || !stralloc_cats(&sa, " peer=")) die_nomem();
  peer_string(e, &sa);
  if (detail && (!stralloc_catb(&sa, " ", 1) || !stralloc_cats(&sa, detail))) die_nomem();
  log_write(&sa);
  stralloc_free(&sa);
}

static char const *const close_names[] = { "-", "clean", "unclean", "idle", "error", "declined" };

static void cat_field(stralloc *sa, char const *key, char const *value, int quote)
{
  if (!stralloc_catb(sa, " ", 1) || !stralloc_cats(sa, key) || !stralloc_catb(sa, "=", 1)) die_nomem();
  if (!value || !*value) value = "-", quote = 0;
  if (quote && !stralloc_catb(sa, "\"", 1)) die_nomem();
  if (!stralloc_cats(sa, value)) die_nomem();
  if (quote && !stralloc_catb(sa, "\"", 1)) die_nomem();
}

static void cat_ull(stralloc *sa, char const *key, unsigned long long u)
{
  char fmt[UINT64_FMT];
  fmt[uint64_fmt(fmt, (uint64_t)u)] = 0;
  cat_field(sa, key, fmt, 0);
}

static void log_done(struct engine *e, int status)
{
  stralloc sa = STRALLOC_ZERO;
  char const *s = e->sslenv.s;
  size_t len = e->sslenv.len;
  int peer_is_client = e->conf->is_server;
  tain now, d;
  int ms;
  char fmt[UINT_FMT + 8];
  size_t m;
  if (e->conf->verbosity < 1) return;
  if (!stralloc_cats(&sa, PROG) || !stralloc_cats(&sa, ": info: done peer=")) die_nomem();
  peer_string(e, &sa);
  cat_field(&sa, "sni", envblock_get(s, len, "SSL_TLS_SNI_SERVERNAME"), 0);
  cat_field(&sa, "proto", envblock_get(s, len, "SSL_PROTOCOL"), 0);
  cat_field(&sa, "cipher", envblock_get(s, len, "SSL_CIPHER"), 0);
  cat_field(&sa, "resumed", !envblock_get(s, len, "SSL_SESSION_RESUMED") ? 0 : strcmp(envblock_get(s, len, "SSL_SESSION_RESUMED"), "Resumed") ? "no" : "yes", 0);
  cat_field(&sa, "verify", envblock_get(s, len, peer_is_client ? "SSL_CLIENT_VERIFY" : "SSL_SERVER_VERIFY"), 1);
  cat_field(&sa, "subject", envblock_get(s, len, peer_is_client ? "SSL_CLIENT_S_DN" : "SSL_SERVER_S_DN"), 1);
  cat_ull(&sa, "in", e->bytes_in);
  cat_ull(&sa, "out", e->bytes_out);
  tain_now(&now);
  tain_sub(&d, &now, &e->start);
  ms = tain_to_millisecs(&d);
  if (ms < 0) ms = 0;
  m = uint_fmt(fmt, (unsigned int)ms / 1000);
  fmt[m++] = '.';
  fmt[m++] = '0' + (ms / 100) % 10; fmt[m++] = '0' + (ms / 10) % 10; fmt[m++] = '0' + ms % 10;
  fmt[m] = 0;
  cat_field(&sa, "time", fmt, 0);
  cat_field(&sa, "close", close_names[e->close], 0);
  if (e->close == CLOSE_ERROR && e->failure[0]) cat_field(&sa, "error", e->failure, 1);
  fmt[uint_fmt(fmt, (unsigned int)status)] = 0;
  cat_field(&sa, "status", fmt, 0);
  if (e->child_reaped) {
    fmt[uint_fmt(fmt, (unsigned int)wait_estatus(e->child_status))] = 0;
    cat_field(&sa, "prog", fmt, 0);
  }
  log_write(&sa);
  stralloc_free(&sa);
}

/* Delayed mode ends with prog's own status, so that a wrapper stays
   transparent (qmail-rspawn reads qmail-remote's exit code). */
static void exit_as_child(struct engine *e) gccattr_noreturn;
static void exit_as_child(struct engine *e)
{
  wait_child(e);
  if (WIFSIGNALED(e->child_status)) {
    int sig = WTERMSIG(e->child_status);
    signal(sig, SIG_DFL);
    selfpipe_finish();
    raise(sig);
    _exit(128 + sig);
  }
  _exit(WEXITSTATUS(e->child_status));
}

static int session_exit_code(enum close_kind k)
{
  switch (k) {
    case CLOSE_CLEAN: return 0;
    case CLOSE_UNCLEAN: return EXIT_UNCLEAN;
    case CLOSE_IDLE: return EXIT_IDLE;
    default: return EXIT_IOERROR;
  }
}

static void write_start(struct engine *e, stralloc *block)
{
  if (!envblock_end(block)) die_nomem();
  /* The child reads concurrently, so a large block cannot deadlock. */
  if (allwrite(e->start_fd, block->s, block->len) < block->len && errno != EPIPE)
    strerr_dief1sys(EXIT_TEMP, "unable to start the program");
  close(e->start_fd);
  e->start_fd = -1;
}

/* Non-blocking best effort: a program that never reads its reply must not
   stop the session. */
static void ctl_send(struct engine *e, char const *s, size_t len)
{
  while (len) {
    ssize_t w = send(e->ctl, s, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w <= 0) break;
    s += w; len -= (size_t)w;
  }
}

static void close_network(struct engine *e)
{
  if (e->net.rfd >= 0) close(e->net.rfd);
  if (e->net.wfd >= 0 && e->net.wfd != e->net.rfd) close(e->net.wfd);
  e->net.rfd = e->net.wfd = -1;
}

/* prog's channel: two pipes, or one socketpair end (late socket). */
static void close_app(struct engine *e)
{
  close(e->app_rfd);
  if (e->app_wfd != e->app_rfd) close(e->app_wfd);
  e->app_rfd = e->app_wfd = -1;
}

void engine_main(struct tlsconf const *c, char const *const *argv, struct engine_prebuilt const *prebuilt)
{
  static struct engine e;   /* static: zeroed, and out of the way of the stack */
  int immediate = !c->delayed;
  int start_pipe[2], to_app[2] = { -1, -1 }, from_app[2] = { -1, -1 }, ctl[2] = { -1, -1 };
  int netr = c->is_server ? 0 : 6, netw = c->is_server ? 1 : 7;
  int reply = 0, rc;
  stralloc block = STRALLOC_ZERO;

  tain_now_set_stopwatch_g();
  tain_copynow(&e.start);
  e.conf = c;
  e.ctl = e.sigfd = e.start_fd = e.app_rfd = e.app_wfd = -1;
  e.net.rfd = e.net.wfd = -1;
  signal(SIGPIPE, SIG_IGN);

  if (c->is_server && c->delayed) {
    char const *smtps = getenv("SMTPS");
    if (smtps && *smtps) immediate = 1;   /* qmail-tls's per-client switch to SMTPS */
  }
  e.net_present = fd_is_open(netr) && fd_is_open(netw);
  if (!e.net_present) {
    if (c->is_server) strerr_dief1x(EXIT_USAGE, "descriptors 0 and 1 must be the network connection");
    if (immediate) strerr_dief1x(EXIT_USAGE, "no network on descriptors 6 and 7: run under tcpclient, or use -n with a late socket");
    e.late_socket = 1;
    tlsconf_exit_config = EXIT_TEMP;
  }
  if (!c->is_server && e.net_present && !c->servername && !c->insecure)
    strerr_dief1x(EXIT_USAGE, "no server name to verify: use -h name (or TLS_SERVERNAME), or -i to skip verification");

  if (pipe2(start_pipe, O_CLOEXEC) < 0) strerr_dief1sys(EXIT_TEMP, "pipe");
  if (e.late_socket) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, to_app) < 0) strerr_dief1sys(EXIT_TEMP, "socketpair");
  } else if (pipe2(to_app, O_CLOEXEC) < 0 || pipe2(from_app, O_CLOEXEC) < 0) strerr_dief1sys(EXIT_TEMP, "pipe");
  if (!immediate && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) < 0) strerr_dief1sys(EXIT_TEMP, "socketpair");
  e.sigfd = selfpipe_init();
  if (e.sigfd < 0 || !selfpipe_trap(SIGCHLD)) strerr_dief1sys(EXIT_TEMP, "selfpipe");

  e.child = fork();
  if (e.child < 0) strerr_dief1sys(EXIT_TEMP, "fork");
  if (!e.child) {
    int app_read = to_app[0], app_write = e.late_socket ? to_app[1] : from_app[1];
    if (e.late_socket) app_read = to_app[1];
    selfpipe_finish();
    signal(SIGPIPE, SIG_DFL);
    /* The engine's ends are close-on-exec, but close them now so that they
       neither keep EOFs away nor take the low descriptor numbers. */
    close(start_pipe[1]);
    if (e.late_socket) close(to_app[0]);
    else { close(to_app[1]); close(from_app[0]); }
    if (ctl[0] >= 0) close(ctl[0]);
    if (immediate) {
      if (fd_copy(netr, app_read) < 0 || fd_copy(netw, app_write) < 0) _exit(EXIT_TEMP);
      child_main(start_pipe[0], argv, 0);
    } else {
      int ucspitls_fds[3] = { ctl[1], app_read, app_write };
      if (uncoe(app_read) < 0 || uncoe(app_write) < 0 || uncoe(ctl[1]) < 0) _exit(EXIT_TEMP);
      child_main(start_pipe[0], argv, ucspitls_fds);
    }
  }

  /* The engine keeps its own ends only. */
  close(start_pipe[0]);
  e.start_fd = start_pipe[1];
  if (e.late_socket) {
    int devnull;
    close(to_app[1]);
    e.app_rfd = e.app_wfd = to_app[0];
    /* Under qmail-rspawn, 0/1/2 are the message and the delivery report:
       never hold them open, never write to them. */
    devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) { dup2(devnull, 0); dup2(devnull, 1); dup2(devnull, 2); if (devnull > 2) close(devnull); }
  } else {
    close(to_app[0]); close(from_app[1]);
    e.app_wfd = to_app[1];
    e.app_rfd = from_app[0];
  }
  if (ctl[1] >= 0) { close(ctl[1]); e.ctl = ctl[0]; }
  ndelay_on(e.app_rfd); ndelay_on(e.app_wfd);

  if (prebuilt) { e.cfg = prebuilt->cfg; e.ctx = prebuilt->ctx; e.report = prebuilt->report; }
  else e.cfg = tlsconf_build(c, &e.ctx, &e.report);
  /* The key is in memory now: no core dump, no ptrace or /proc/PID/mem
     access by same-uid processes (prog, when TLS_UID is not used). And
     nothing this process could exec would gain privileges. prog was forked
     before: neither setting reaches it. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  /* A configured server context holds the key as OpenSSL needs it: the PEM
     text the configuration read goes now. */
  if (c->is_server) tls_config_clear_keys(e.cfg);
  drop_privileges(c);

  log_debug(&e, "start", immediate ? "mode=immediate" : "mode=delayed");
  if (!immediate) {
    add_private_unsets(&block, 1);
    write_start(&e, &block);
    if (!engine_wait_command(&e, &reply)) {
      e.close = CLOSE_DECLINED;
      close_network(&e);
      close_app(&e);
      wait_child(&e);
      log_done(&e, wait_estatus(e.child_status));
      exit_as_child(&e);
    }
    log_debug(&e, "command", reply ? "Y" : "y");
  }
  /* A late socket was set up when it arrived (control.c). */
  if (!e.late_socket) netio_init(&e.net, netr, netw);

  rc = engine_handshake(&e);
  if (rc) {
    engine_log_failure(&e, rc == EXIT_HANDSHAKE_TIMEOUT ? "handshake timed out" : "handshake failed");
    if (immediate) _exit(rc);
    if (reply) {
      stralloc err = STRALLOC_ZERO;
      if (envblock_add(&err, "SSL_ERROR", e.failure[0] ? e.failure : "handshake failed")) ctl_send(&e, err.s, err.len);
    }
    close(e.ctl);
    close_network(&e);
    close_app(&e);
    exit_as_child(&e);
  }

  /* libtls's client reads its keypair when it connects: its PEM text can
     go only now. */
  if (!c->is_server) tls_config_clear_keys(e.cfg);

  {
    struct peerreport_args a;
    X509_STORE *store = e.report;
    a.peer_is_client = c->is_server;
    a.libtls_verified = e.libtls_verified;
    a.expected_name = c->is_server ? 0 : e.late_socket ? e.late.host : c->servername;
    if (!c->is_server && !a.libtls_verified && !store)
      store = e.report = tlsconf_report_store(e.late.cafile[0] ? e.late.cafile : c->cafile, c->cadir, c->crlfile);
    a.store = store;
    if (!peerreport_env(&e.sslenv, e.tls, &a)) die_nomem();
  }

  {
    char const *s = e.sslenv.s;
    size_t n = e.sslenv.len;
    stralloc d = STRALLOC_ZERO;
    char const *proto = envblock_get(s, n, "SSL_PROTOCOL"), *cipher = envblock_get(s, n, "SSL_CIPHER");
    if (!stralloc_cats(&d, "proto=") || !stralloc_cats(&d, proto ? proto : "-")
        || !stralloc_cats(&d, " cipher=") || !stralloc_cats(&d, cipher ? cipher : "-") || !stralloc_0(&d)) die_nomem();
    log_debug(&e, "handshake done", d.s);
    stralloc_free(&d);
  }
  if (immediate) {
    block.len = 0;
    add_private_unsets(&block, 0);
    if (!stralloc_catb(&block, e.sslenv.s, e.sslenv.len)) die_nomem();
    write_start(&e, &block);
  } else {
    if (reply) {
      block.len = 0;
      if (!stralloc_catb(&block, e.sslenv.s, e.sslenv.len) || !envblock_end(&block)) die_nomem();
      ctl_send(&e, block.s, block.len);
    }
    close(e.ctl);
    e.ctl = -1;
  }
  stralloc_free(&block);

  engine_relay(&e);
  rc = session_exit_code(e.close);
  tls_free(e.tls == e.ctx ? 0 : e.tls);
  close_network(&e);
  if (!immediate) {
    wait_child(&e);
    log_done(&e, wait_estatus(e.child_status));
    exit_as_child(&e);
  }
  /* prog normally exits as soon as its pipes close: wait a little for its
     status, for the log line only, never for long. */
  {
    tain deadline;
    tain_now_g();
    tain_addsec_g(&deadline, 1);
    engine_reap(&e);
    while (!e.child_reaped) {
      iopause_fd x = { .fd = e.sigfd, .events = IOPAUSE_READ };
      if (iopause_g(&x, 1, &deadline) <= 0) break;
      engine_reap(&e);
    }
  }
  log_done(&e, rc);
  _exit(rc);
}
