/* tlsserver -L: its own accept loop. The configuration and keys are loaded
   once; each connection is one fork of this process running the same
   engine as the chained mode (no exec), with the environment tcpserver
   would give. The listener itself never reads network data. */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <skalibs/djbunix.h>
#include <skalibs/env.h>
#include <skalibs/iopause.h>
#include <skalibs/ip46.h>
#include <skalibs/selfpipe.h>
#include <skalibs/sig.h>
#include <skalibs/socket.h>
#include <skalibs/strerr.h>
#include <skalibs/stralloc.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "exitcodes.h"
#include "engine.h"
#include "accessrules.h"
#include "tlsctx.h"

struct endpoint {
  ip46 ip;
  uint16_t port;
};

/* tcpserver's habits: "0" is every address; a port may be a service name. */
static void scan_endpoint(char const *ip, char const *port, struct endpoint *e)
{
  size_t n;
  if (!strcmp(ip, "0")) ip = "0.0.0.0";
  n = ip46_scan(ip, &e->ip);
  if (!n || ip[n]) strerr_dief2x(EXIT_USAGE, "invalid IP address: ", ip);
  n = uint160_scan(port, &e->port);
  if (!n || port[n]) {
    struct servent *se = getservbyname(port, "tcp");
    if (!se) strerr_dief2x(EXIT_USAGE, "invalid port: ", port);
    e->port = ntohs((uint16_t)se->s_port);
  }
}

static int listen_on(struct endpoint const *e, char const *ip, char const *port)
{
  int fd = socket_tcp46_nbcoe(ip46_is6(&e->ip));
  if (fd < 0) strerr_diefu1sys(EXIT_TEMP, "create a socket");
  if (socket_bind46_reuse(fd, &e->ip, e->port) < 0) strerr_diefu4sys(EXIT_TEMP, "bind to ", ip, " port ", port);
  if (socket_listen(fd, 128) < 0) strerr_diefu4sys(EXIT_TEMP, "listen on ", ip, " port ", port);
  return fd;
}

/* tcpserver reports v4 clients of a v6 socket as plain v4. */
static void endpoint_fmt(struct endpoint const *e, char *ip, char *port)
{
  static unsigned char const mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  if (ip46_is6(&e->ip) && !memcmp(e->ip.ip, mapped, 12)) ip[ip4_fmt(ip, e->ip.ip + 12)] = 0;
  else ip[ip46_fmt(ip, &e->ip)] = 0;
  port[uint16_fmt(port, e->port)] = 0;
}

static int accept_on(int lfd, int is6, struct endpoint *remote)
{
  int s;
  if (is6) { s = socket_accept6_coe(lfd, remote->ip.ip, &remote->port); remote->ip.is6 = 1; }
  else { s = socket_accept4_coe(lfd, remote->ip.ip, &remote->port); remote->ip.is6 = 0; }
  return s;
}

static void set_env(char const *name, char const *value)
{
  if (setenv(name, value, 1) < 0) strerr_dief1x(EXIT_TEMP, "out of memory");
}

static void connection_child(int s, struct endpoint const *local, struct endpoint const *remote,
                             stralloc const *rule_env, struct tlsctx *pre,
                             struct tlsconf const *conf, struct tlsconf const *opts, char const *const *argv) gccattr_noreturn;
static void connection_child(int s, struct endpoint const *local, struct endpoint const *remote,
                             stralloc const *rule_env, struct tlsctx *pre,
                             struct tlsconf const *conf, struct tlsconf const *opts, char const *const *argv)
{
  char ip[IP46_FMT], port[UINT16_FMT];
  struct reason r;
  size_t i;
  endpoint_fmt(local, ip, port);
  set_env("PROTO", "TCP");
  set_env("TCPLOCALIP", ip); set_env("TCPLOCALPORT", port);
  endpoint_fmt(remote, ip, port);
  set_env("TCPREMOTEIP", ip); set_env("TCPREMOTEPORT", port);
  unsetenv("TCPLOCALHOST"); unsetenv("TCPREMOTEHOST"); unsetenv("TCPREMOTEINFO");
  for (i = 0; i < rule_env->len; i += strlen(rule_env->s + i) + 1) {
    char *eq = strchr(rule_env->s + i, '=');
    if (!eq) continue;
    *eq = 0;
    set_env(rule_env->s + i, eq + 1);
    *eq = '=';
  }
  if (fd_move(0, s) < 0 || fd_copy(1, 0) < 0) strerr_diefu1sys(EXIT_TEMP, "set up descriptors");
  if (tlsctx_per_client(pre, conf, opts, &r) < 0) strerr_dief1x(r.code, r.text);
  engine_main(conf, argv, pre, 0);
}

/* "info: reload done subject=... notafter=..." (what new connections get
   now) or "warning: reload failed keep=previous reason=...". */
static void log_reload(struct tlsconf const *conf, struct reason const *failed)
{
  char subject[512], notafter[64];
  if (failed) {
    strerr_warnw3x("reload failed keep=previous reason=\"", failed->text, "\"");
    return;
  }
  if (conf->verbosity < 1) return;
  if (tlsctx_cert_info(conf->certfile, subject, sizeof subject, notafter, sizeof notafter) < 0)
    strerr_warni1x("reload done subject=- notafter=-");
  else strerr_warni5x("reload done subject=\"", subject, "\" notafter=\"", notafter, "\"");
}

void engine_reload(struct tlsconf const *conf, struct tlsctx *current)
{
  struct tlsctx fresh;
  struct reason r;
  if (tlsctx_load(&fresh, conf, &r) < 0) { log_reload(conf, &r); return; }
  tlsctx_free(current);
  *current = fresh;
  log_reload(conf, 0);
  if (current->warning.text[0]) strerr_warnw1x(current->warning.text);
}

int engine_keyholder_signals(void)
{
  sigset_t set;
  int fd = selfpipe_init();
  if (fd < 0) strerr_diefu1sys(EXIT_TEMP, "create a selfpipe");
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD); sigaddset(&set, SIGHUP); sigaddset(&set, SIGTERM); sigaddset(&set, SIGINT);
  if (!selfpipe_trapset(&set)) strerr_diefu1sys(EXIT_TEMP, "trap signals");
  sig_ignore(SIGPIPE);
  /* It holds the keys for its whole life, and so does every fork of it
     (until prog's exec, for -L): none may be read through /proc or ptrace. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  return fd;
}

void engine_listen(struct tlsconf const *conf, struct tlsconf const *opts, char const *ip, char const *port,
                   unsigned int maxconn, char const *rules, char const *const *argv)
{
  struct tlsctx pre;
  struct endpoint local;
  struct reason r;
  unsigned int active = 0;
  int lfd, sigfd;
  stralloc rule_env = STRALLOC_ZERO;

  scan_endpoint(ip, port, &local);
  lfd = listen_on(&local, ip, port);
  sigfd = engine_keyholder_signals();
  if (tlsctx_load(&pre, conf, &r) < 0) strerr_dief1x(r.code, r.text);
  if (pre.warning.text[0]) strerr_warnw1x(pre.warning.text);
  if (conf->verbosity >= 1) strerr_warni4x("listening on ", ip, " port ", port);

  for (;;) {
    iopause_fd x[2];
    unsigned int n = 1;
    x[0].fd = sigfd; x[0].events = IOPAUSE_READ;
    if (active < maxconn) { x[1].fd = lfd; x[1].events = IOPAUSE_READ; n = 2; }
    if (iopause_g(x, n, &tain_infinite) < 0) strerr_diefu1sys(EXIT_TEMP, "iopause");

    if (x[0].revents) {
      int sig;
      while ((sig = selfpipe_read()) > 0) {
        if (sig == SIGCHLD) {
          int wstat;
          while (wait_nohang(&wstat) > 0) if (active) active--;
        } else if (sig == SIGHUP) {
          engine_reload(conf, &pre);
        } else {
          if (conf->verbosity >= 1) strerr_warni1x("exiting: current connections continue");
          _exit(0);
        }
      }
    }

    if (n == 2 && x[1].revents) {
      struct endpoint remote;
      char rip[IP46_FMT], rport[UINT16_FMT];
      pid_t pid;
      int s = accept_on(lfd, ip46_is6(&local.ip), &remote);
      if (s < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) strerr_warnwu1sys("accept");
        continue;
      }
      rule_env.len = 0;
      if (rules) {
        int ok;
        endpoint_fmt(&remote, rip, rport);
        ok = accessrules_check(rules, rip, &rule_env);
        if (ok <= 0) {
          if (ok < 0) strerr_warnwu2sys("read rules ", rules);
          else if (conf->verbosity >= 1) {
            int six = !!strchr(rip, ':');
            strerr_warni5x("deny peer=", six ? "[" : "", rip, six ? "]:" : ":", rport);
          }
          fd_close(s);
          continue;
        }
      }
      pid = fork();
      if (pid < 0) { strerr_warnwu1sys("fork"); fd_close(s); continue; }
      if (!pid) {
        fd_close(lfd);
        selfpipe_finish();
        connection_child(s, &local, &remote, &rule_env, &pre, conf, opts, argv);
      }
      fd_close(s);
      active++;
    }
  }
}
