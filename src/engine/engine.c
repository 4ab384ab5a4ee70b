#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <skalibs/djbunix.h>
#include <skalibs/sig.h>
#include <skalibs/socket.h>
#include <skalibs/strerr.h>
#include <skalibs/stralloc.h>
#include <skalibs/tai.h>
#include "exitcodes.h"
#include "engine.h"
#include "appchan.h"
#include "control.h"
#include <skalibs/env.h>
#include "envblock.h"
#include "handshake.h"
#include "netio.h"
#include "peerreport.h"
#include "privsep.h"
#include "prog.h"
#include "relay.h"
#include "summary.h"
#include "tickets.h"

extern char **environ;

enum mode { MODE_IMMEDIATE, MODE_DELAYED, MODE_LATE_SOCKET };

static int fd_is_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

int engine_late_socket(struct tlsconf const *c)
{
  return !c->is_server && c->delayed && !(fd_is_open(6) && fd_is_open(7));
}

/* The mode, decided once. */
static enum mode mode_of(struct tlsconf const *c)
{
  char const *smtps = getenv("SMTPS");
  if (!c->delayed) return MODE_IMMEDIATE;
  /* qmail-tls's per-client switch to SMTPS, settable from tcprules */
  if (c->is_server && smtps && *smtps) return MODE_IMMEDIATE;
  return engine_late_socket(c) ? MODE_LATE_SOCKET : MODE_DELAYED;
}

static void die_nomem(void) gccattr_noreturn;
static void die_nomem(void) { strerr_dief1x(EXIT_TEMP, "out of memory"); }

/* The network descriptors: 0/1 for tlsserver, 6/7 for tlsclient. */
static void network_fds(struct tlsconf const *c, int *rfd, int *wfd)
{
  *rfd = c->is_server ? 0 : 6;
  *wfd = c->is_server ? 1 : 7;
  if (!fd_is_open(*rfd) || !fd_is_open(*wfd)) {
    if (c->is_server) strerr_dief1x(EXIT_USAGE, "descriptors 0 and 1 must be the network connection: run tlsserver under tcpserver, or use -L ip port");
    strerr_dief1x(EXIT_USAGE, "no network on descriptors 6 and 7: run under tcpclient, or use -n with a late socket");
  }
  if (isatty(*rfd)) strerr_dief1x(EXIT_USAGE, c->is_server
    ? "descriptor 0 is a terminal, not a connection: run tlsserver under tcpserver, or use -L ip port"
    : "descriptor 6 is a terminal, not a connection: run tlsclient under tcpclient");
}

static void deadline_in(tain *deadline, unsigned int ms)
{
  tain d;
  tain_now_g();
  if (!ms) { *deadline = tain_infinite; return; }
  tain_from_millisecs(&d, (int)ms);
  tain_add_g(deadline, &d);
}

/* Unset entries for everything prog must not inherit: the variables naming
   key, certificate and privilege settings, and, before TLS, every SSL_*
   variable a session could define. */
static void private_unsets(stralloc *sa, int with_ssl_vars)
{
  char const *const *v;
  char **ep;
  for (v = tlsconf_private_vars; *v; v++) if (!env_addmodif(sa, *v, 0)) die_nomem();
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
    for (i = 0; i < 3; i++) for (v = lists[i]; *v; v++) if (!env_addmodif(sa, *v, 0)) die_nomem();
  }
}

/* The configuration, then the privileges. A listener's fork has it
   already. A client that knows its server's name from the start makes its
   context now too, while it can still read the trust anchors. */
static int tls_setup(struct tlsconf const *c, struct tlsctx *t, struct tlsctx const *preloaded, int late, struct reason *r)
{
  privsep_nodump();
  if (preloaded) *t = *preloaded;
  else if (tlsctx_load(t, c, r) < 0) return -1;
  else if (t->warning.text[0]) strerr_warnw1x(t->warning.text);
  if (!c->is_server && !late && tlsctx_client_ready(t, c, 0, 1, r) < 0) return -1;
  /* A configured server context holds the key as OpenSSL needs it: the PEM
     text the configuration read goes now. A client reads its keypair when
     it connects: see session_report. */
  if (c->is_server) tlsctx_clear_keys(t);
  return privsep_drop(c, r);
}

/* After a handshake: the client's key text goes, and the SSL_* block of
   the session is computed. */
static void session_report(struct tlsconf const *c, struct tlsctx *t, struct tls *conn, char const *expected_name, struct summary *s)
{
  struct peerreport_args a;
  stralloc d = STRALLOC_ZERO;
  char const *proto, *cipher;
  if (!c->is_server) tlsctx_clear_keys(t);
  a.peer_is_client = c->is_server;
  a.libtls_verified = t->libtls_verifies;
  a.store = t->report;
  a.expected_name = expected_name;
  if (!peerreport_env(&s->sslenv, conn, &a)) die_nomem();
  if (c->verbosity < 2) return;
  proto = envblock_get(s->sslenv.s, s->sslenv.len, "SSL_PROTOCOL");
  cipher = envblock_get(s->sslenv.s, s->sslenv.len, "SSL_CIPHER");
  if (!stralloc_cats(&d, "proto=") || !stralloc_cats(&d, proto ? proto : "-")
      || !stralloc_cats(&d, " cipher=") || !stralloc_cats(&d, cipher ? cipher : "-") || !stralloc_0(&d)) die_nomem();
  summary_log_debug(s, c, "handshake done", d.s);
  stralloc_free(&d);
}

/* tlsclient's session cache: sessions are offered only to the same server
   name and port, and under the trust settings they were made under. */
static void client_cache(struct tlsconf const *c, struct tlsctx const *t, char const *name, char const *cafile,
                         int netfd, struct sesscache_args *a, stralloc *trust)
{
  char v[2] = { (char)('0' + !!t->libtls_verifies), 0 };
  if (!cafile) cafile = c->cafile;
  trust->len = 0;
  if (!stralloc_cats(trust, "verify=") || !stralloc_cats(trust, v)
      || !stralloc_cats(trust, " cafile=") || !stralloc_cats(trust, cafile ? cafile : "")
      || !stralloc_cats(trust, " cadir=") || !stralloc_cats(trust, c->cadir ? c->cadir : "") || !stralloc_0(trust)) die_nomem();
  if (tickets_lifetime(c->ticketlifetime, &a->lifetime) < 0) a->lifetime = TICKETS_LIFETIME_DEFAULT;
  a->dir = c->sessioncache;
  a->servername = name;
  a->trust = trust->s;
  a->netfd = netfd;
}

static int handshake_exit_kind(struct reason const *r)
{
  return r->code == EXIT_HANDSHAKE_TIMEOUT ? CLOSE_HANDSHAKE_TIMEOUT : CLOSE_HANDSHAKE;
}

static char const *handshake_what(struct reason const *r)
{
  return r->code == EXIT_HANDSHAKE_TIMEOUT ? "handshake timed out" : "handshake failed";
}

static int session_exit_code(enum close_kind k)
{
  switch (k) {
    case CLOSE_CLEAN: return 0;
    case CLOSE_UNCLEAN: return EXIT_UNCLEAN;
    case CLOSE_IDLE: return EXIT_IDLE;
    case CLOSE_SYSTEM: return EXIT_TEMP;
    default: return EXIT_IOERROR;
  }
}

/* The session ends before prog ran: prog never will. One fatal line (or
   warning, where the mode goes on without TLS), one done line, the exit. */
static void refuse(struct summary *s, struct tlsconf const *c, struct prog *p, enum close_kind k,
                   struct reason const *r, char const *level, char const *what) gccattr_noreturn;
static void refuse(struct summary *s, struct tlsconf const *c, struct prog *p, enum close_kind k,
                   struct reason const *r, char const *level, char const *what)
{
  prog_refuse(p, r->code);
  summary_end(s, k, r);
  if (what) summary_log_failure(s, level, what);
  else strerr_warn(PROG, ": fatal: ", r->text);
  prog_wait(p);
  summary_log(s, c, r->code, -1);
  _exit(r->code);
}

/* Delayed mode ends with prog's own status, so that a wrapper stays
   transparent (qmail-rspawn reads qmail-remote's exit code). A prog
   killed by a signal makes the engine die of the same one; no core can
   come of it (privsep_nodump). */
static void finish_as_prog(struct summary *s, struct tlsconf const *c, struct prog *p) gccattr_noreturn;
static void finish_as_prog(struct summary *s, struct tlsconf const *c, struct prog *p)
{
  prog_wait(p);
  /* A remote prog's status goes to its own parent (tcpserver), not here. */
  if (prog_is_remote(p)) { summary_log(s, c, 0, -1); _exit(0); }
  summary_log(s, c, wait_estatus(p->wstat), p->wstat);
  if (WIFSIGNALED(p->wstat)) {
    int sig = WTERMSIG(p->wstat);
    sig_restore(sig);
    raise(sig);
    _exit(128 + sig);
  }
  _exit(WEXITSTATUS(p->wstat));
}

/* prog was started, but could not be executed: not prog's status (127
   would read "permanent" to qmail-rspawn), a temporary failure. */
static void exec_failed(struct summary *s, struct tlsconf const *c, struct prog *p, struct reason const *r) gccattr_noreturn;
static void exec_failed(struct summary *s, struct tlsconf const *c, struct prog *p, struct reason const *r)
{
  summary_end(s, CLOSE_EXEC, r);
  strerr_warn(PROG, ": fatal: ", r->text);
  prog_wait(p);
  summary_log(s, c, EXIT_TEMP, -1);
  _exit(EXIT_TEMP);
}

static void fork_failed(struct summary *s, struct tlsconf const *c, struct reason const *r) gccattr_noreturn;
static void fork_failed(struct summary *s, struct tlsconf const *c, struct reason const *r)
{
  summary_end(s, CLOSE_SYSTEM, r);
  strerr_warn(PROG, ": fatal: ", r->text);
  summary_log(s, c, EXIT_TEMP, -1);
  _exit(EXIT_TEMP);
}

/* Immediate mode: handshake first; prog runs on two pipes once it
   succeeded, and never otherwise. */
static void run_immediate(struct tlsconf const *c, char const *const *argv, struct tlsctx const *preloaded) gccattr_noreturn;
static void run_immediate(struct tlsconf const *c, char const *const *argv, struct tlsctx const *preloaded)
{
  static struct summary s;
  struct prog p = PROG_ZERO;
  struct appchan app = APPCHAN_ZERO;
  struct prog_fds fds;
  struct tlsctx t = TLSCTX_ZERO;
  struct tls *conn = 0;
  struct netio net;
  struct reason r;
  struct sesscache_args cache;
  stralloc block = STRALLOC_ZERO, trust = STRALLOC_ZERO;
  tain deadline;
  int netr, netw, rc;

  summary_begin(&s);
  network_fds(c, &netr, &netw);
  fds.plain_rfd = netr; fds.plain_wfd = netw; fds.ctl = fds.ctl_engine = -1;
  if (appchan_pipes(&app) < 0) { reason_sys(&r, EXIT_TEMP, "unable to create prog's channel", 0, 0); fork_failed(&s, c, &r); }
  if (prog_fork(&p, argv, &app, &fds, &r) < 0) fork_failed(&s, c, &r);
  appchan_engine_side(&app);
  if (tls_setup(c, &t, preloaded, 0, &r) < 0)
    refuse(&s, c, &p, r.code == EXIT_CONFIG ? CLOSE_CONFIG : CLOSE_SYSTEM, &r, "fatal", 0);
  summary_log_debug(&s, c, "start", "mode=immediate");

  netio_init(&net, netr, netw);
  deadline_in(&deadline, c->handshake_ms);
  if (!c->is_server) client_cache(c, &t, c->servername, 0, netr, &cache, &trust);
  if ((c->is_server ? handshake_server(t.ctx, &conn, &net, &deadline, &r)
                    : handshake_client(conn = t.ctx, &cache, &net, &deadline, &r)) < 0)
    refuse(&s, c, &p, handshake_exit_kind(&r), &r, "fatal", handshake_what(&r));
  session_report(c, &t, conn, c->is_server ? 0 : c->servername, &s);

  private_unsets(&block, 0);
  if (!stralloc_catb(&block, s.sslenv.s, s.sslenv.len)) die_nomem();
  if (prog_start(&p, &block, 1, argv[0], &r) < 0) { tls_close(conn); exec_failed(&s, c, &p, &r); }
  stralloc_free(&block);

  relay_run(conn, &net, &app, c->idle_ms, c->close_notify, &s);
  rc = session_exit_code(s.close);
  /* prog normally exits as soon as its pipes close: wait a little for its
     status, for the log line only, never for long. */
  tain_now_g();
  tain_addsec_g(&deadline, 1);
  summary_log(&s, c, rc, prog_wait_until(&p, &deadline) ? p.wstat : -1);
  _exit(rc);
}

/* Delayed mode (UCSPI-TLS) on the connection tcpserver or tcpclient gave:
   prog runs at once on the raw connection and asks for TLS on SSLCTLFD.
   For tlsserver, a configuration that cannot be loaded does not stop the
   connection: prog runs without the UCSPI-TLS descriptors, so that it
   offers no TLS and mail still flows (unless -F). */
static void run_delayed(struct tlsconf const *c, char const *const *argv, struct tlsctx const *preloaded) gccattr_noreturn;
static void run_delayed(struct tlsconf const *c, char const *const *argv, struct tlsctx const *preloaded)
{
  static struct summary s;
  struct prog p = PROG_ZERO;
  struct appchan app = APPCHAN_ZERO;
  struct prog_fds fds;
  struct tlsctx t = TLSCTX_ZERO;
  struct tls *conn = 0;
  struct netio net;
  struct reason r;
  struct sesscache_args cache;
  stralloc block = STRALLOC_ZERO, trust = STRALLOC_ZERO;
  tain deadline;
  int netr, netw, ctl[2], sock;
  enum control_cmd cmd;

  summary_begin(&s);
  network_fds(c, &netr, &netw);
  if (appchan_pipes(&app) < 0 || ipc_pair_coe(ctl) < 0) {
    reason_sys(&r, EXIT_TEMP, "unable to create prog's channel", 0, 0);
    fork_failed(&s, c, &r);
  }
  fds.plain_rfd = fds.plain_wfd = -1; fds.ctl = ctl[1]; fds.ctl_engine = ctl[0];
  if (prog_fork(&p, argv, &app, &fds, &r) < 0) fork_failed(&s, c, &r);
  appchan_engine_side(&app);
  fd_close(ctl[1]);
  private_unsets(&block, 1);

  if (tls_setup(c, &t, preloaded, 0, &r) < 0) {
    /* Only a server goes on without TLS: its peer decides whether to send
       mail in plaintext. A client that cannot set up TLS says so and stops
       (its late socket, below, tells prog instead). */
    if (c->strict || !c->is_server || r.code != EXIT_CONFIG)
      refuse(&s, c, &p, r.code == EXIT_CONFIG ? CLOSE_CONFIG : CLOSE_SYSTEM, &r, "fatal", 0);
    summary_end(&s, CLOSE_NOTLS, &r);
    summary_log_failure(&s, "warning", "TLS unavailable, prog runs without it");
    if (prog_start(&p, &block, 0, argv[0], &r) < 0) exec_failed(&s, c, &p, &r);
    fd_close(ctl[0]);
    appchan_close(&app);
    finish_as_prog(&s, c, &p);
  }
  summary_log_debug(&s, c, "start", "mode=delayed");
  if (prog_start(&p, &block, 1, argv[0], &r) < 0) exec_failed(&s, c, &p, &r);
  stralloc_free(&block);

  cmd = control_wait(ctl[0], 0, &sock, &r);
  if (cmd == CONTROL_DECLINED) {
    fd_close(netr); if (netw != netr) fd_close(netw);
    appchan_close(&app);
    summary_end(&s, CLOSE_DECLINED, 0);
    finish_as_prog(&s, c, &p);
  }
  if (cmd == CONTROL_ERROR) {
    /* The connection is shared with prog: shut it down for both. */
    shutdown(netr, SHUT_RDWR);
    fd_close(ctl[0]);
    summary_end(&s, r.code == EXIT_PROTOCOL ? CLOSE_PROTOCOL : CLOSE_SYSTEM, &r);
    strerr_warn(PROG, ": fatal: ", r.text, ": connection closed");
    prog_wait(&p);
    summary_log(&s, c, r.code, p.wstat);
    _exit(r.code);
  }
  summary_log_debug(&s, c, "command", cmd == CONTROL_TLS_REPLY ? "Y" : "y");

  netio_init(&net, netr, netw);
  deadline_in(&deadline, c->handshake_ms);
  if (!c->is_server) client_cache(c, &t, c->servername, 0, netr, &cache, &trust);
  if ((c->is_server ? handshake_server(t.ctx, &conn, &net, &deadline, &r)
                    : handshake_client(conn = t.ctx, &cache, &net, &deadline, &r)) < 0) {
    summary_end(&s, handshake_exit_kind(&r), &r);
    summary_log_failure(&s, "warning", handshake_what(&r));
    if (cmd == CONTROL_TLS_REPLY && env_addmodif(&block, "SSL_ERROR", r.text)) control_send(ctl[0], block.s, block.len);
    fd_close(ctl[0]);
    fd_close(netr); if (netw != netr) fd_close(netw);
    appchan_close(&app);
    finish_as_prog(&s, c, &p);
  }
  session_report(c, &t, conn, c->is_server ? 0 : c->servername, &s);
  if (cmd == CONTROL_TLS_REPLY) {
    if (!stralloc_catb(&block, s.sslenv.s, s.sslenv.len) || !envblock_end(&block)) die_nomem();
    control_send(ctl[0], block.s, block.len);
  }
  fd_close(ctl[0]);
  stralloc_free(&block);

  relay_run(conn, &net, &app, c->idle_ms, c->close_notify, &s);
  fd_close(netr); if (netw != netr) fd_close(netw);
  finish_as_prog(&s, c, &p);
}

/* tlsclient's late socket (qmail-remote under qmail-rspawn): prog
   connects by itself and passes the socket over SSLCTLFD. Descriptors
   0/1/2 are the message and the delivery report there: the engine holds
   none of them and writes nothing. Nothing here may bounce a message:
   every refusal reaches prog as SSL_ERROR (prog defers, or goes on without
   TLS where TLS was only opportunistic), and what is left exits 111. */
static void run_late_socket(struct tlsconf const *c, char const *const *argv, struct reason const *refusal) gccattr_noreturn;
static void run_late_socket(struct tlsconf const *c, char const *const *argv, struct reason const *refusal)
{
  static struct summary s;
  static struct ctlmsg_socket late;
  struct prog p = PROG_ZERO;
  struct appchan app = APPCHAN_ZERO;
  struct prog_fds fds;
  struct tlsctx t = TLSCTX_ZERO;
  struct netio net;
  struct reason r, refused = { 0, "" };
  struct sesscache_args cache;
  stralloc block = STRALLOC_ZERO, trust = STRALLOC_ZERO;
  tain deadline;
  int ctl[2], sock, devnull;
  enum control_cmd cmd;

  summary_begin(&s);
  if (appchan_pair(&app) < 0 || ipc_pair_coe(ctl) < 0) {
    reason_sys(&r, EXIT_TEMP, "unable to create prog's channel", 0, 0);
    fork_failed(&s, c, &r);
  }
  fds.plain_rfd = fds.plain_wfd = -1; fds.ctl = ctl[1]; fds.ctl_engine = ctl[0];
  if (prog_fork(&p, argv, &app, &fds, &r) < 0) fork_failed(&s, c, &r);
  appchan_engine_side(&app);
  fd_close(ctl[1]);
  devnull = open("/dev/null", O_RDWR);
  if (devnull >= 0) { fd_copy(0, devnull); fd_copy(1, devnull); fd_copy(2, devnull); if (devnull > 2) fd_close(devnull); }

  if (refusal) refused = *refusal;
  else tls_setup(c, &t, 0, 1, &refused);   /* a refusal goes to prog, below */
  private_unsets(&block, 1);
  if (prog_start(&p, &block, 1, argv[0], &r) < 0) exec_failed(&s, c, &p, &r);
  block.len = 0;

  cmd = control_wait(ctl[0], &late, &sock, &r);
  if (cmd == CONTROL_DECLINED) {
    if (sock >= 0) fd_close(sock);
    appchan_close(&app);
    summary_end(&s, CLOSE_DECLINED, 0);
    finish_as_prog(&s, c, &p);
  }
  if (cmd == CONTROL_ERROR) {
    if (sock >= 0) { shutdown(sock, SHUT_RDWR); fd_close(sock); }
    fd_close(ctl[0]);
    summary_end(&s, r.code == EXIT_PROTOCOL ? CLOSE_PROTOCOL : CLOSE_SYSTEM, &r);
    prog_wait(&p);
    summary_log(&s, c, r.code, p.wstat);
    _exit(r.code);
  }
  summary_addresses(&s, sock);

  netio_init(&net, sock, sock);
  if (refused.code) {
    reason_set(&r, refused.code, "configuration refused: ", refused.text, 0, 0);
    summary_end(&s, CLOSE_CONFIG, &r);
  } else if (tlsctx_client_ready(&t, c, late.cafile[0] ? late.cafile : 0, late.verify, &r) < 0)
    summary_end(&s, CLOSE_CONFIG, &r);
  else {
    deadline_in(&deadline, c->handshake_ms);
    client_cache(c, &t, late.host, late.cafile[0] ? late.cafile : 0, sock, &cache, &trust);
    if (handshake_client(t.ctx, &cache, &net, &deadline, &r) < 0) summary_end(&s, handshake_exit_kind(&r), &r);
  }
  if (s.close != CLOSE_NONE) {
    if (cmd == CONTROL_TLS_REPLY && env_addmodif(&block, "SSL_ERROR", r.text)) control_send(ctl[0], block.s, block.len);
    fd_close(ctl[0]);
    fd_close(sock);
    appchan_close(&app);
    finish_as_prog(&s, c, &p);
  }
  session_report(c, &t, t.ctx, late.host, &s);
  if (cmd == CONTROL_TLS_REPLY) {
    if (!stralloc_catb(&block, s.sslenv.s, s.sslenv.len) || !envblock_end(&block)) die_nomem();
    control_send(ctl[0], block.s, block.len);
  }
  fd_close(ctl[0]);
  stralloc_free(&block);

  relay_run(t.ctx, &net, &app, c->idle_ms, c->close_notify, &s);
  fd_close(sock);
  finish_as_prog(&s, c, &p);
}

void engine_main(struct tlsconf const *c, char const *const *argv, struct tlsctx const *preloaded, struct reason const *refusal)
{
  enum mode m = mode_of(c);
  sig_ignore(SIGPIPE);
  if (m == MODE_LATE_SOCKET) run_late_socket(c, argv, refusal);
  if (refusal) strerr_dief1x(refusal->code, refusal->text);
  if (m == MODE_IMMEDIATE) run_immediate(c, argv, preloaded);
  run_delayed(c, argv, preloaded);
}
