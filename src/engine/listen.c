/* tlsserver -L: its own accept loop. The configuration and keys are loaded
   once; each connection is one fork of this process running the same
   engine as the chained mode (no exec), with the environment tcpserver
   would give. The listener itself never reads network data. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/selfpipe.h>
#include <skalibs/strerr.h>
#include <skalibs/stralloc.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>
#include "engine.h"
#include "accessrules.h"
#include "tickets.h"

union sockaddr_any {
  struct sockaddr sa;
  struct sockaddr_in in;
  struct sockaddr_in6 in6;
};

static int listen_on(char const *ip, char const *port, union sockaddr_any *local)
{
  uint16_t p;
  int fd, one = 1;
  socklen_t len;
  memset(local, 0, sizeof *local);
  if (!uint160_scan(port, &p)) strerr_dief2x(EXIT_USAGE, "invalid port: ", port);
  if (inet_pton(AF_INET, ip, &local->in.sin_addr) == 1) {
    local->in.sin_family = AF_INET; local->in.sin_port = htons(p); len = sizeof local->in;
  } else if (inet_pton(AF_INET6, ip, &local->in6.sin6_addr) == 1) {
    local->in6.sin6_family = AF_INET6; local->in6.sin6_port = htons(p); len = sizeof local->in6;
  } else strerr_dief2x(EXIT_USAGE, "invalid IP address: ", ip);
  fd = socket(local->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) strerr_dief1sys(EXIT_TEMP, "socket");
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, &local->sa, len) < 0) strerr_dief4sys(EXIT_TEMP, "unable to bind to ", ip, " port ", port);
  if (listen(fd, 128) < 0) strerr_dief1sys(EXIT_TEMP, "listen");
  return fd;
}

static void addr_string(union sockaddr_any const *a, char *ip, size_t iplen, char *port)
{
  uint16_t p;
  if (a->sa.sa_family == AF_INET6) {
    /* tcpserver reports v4 clients of a v6 socket as plain v4 */
    if (IN6_IS_ADDR_V4MAPPED(&a->in6.sin6_addr)) inet_ntop(AF_INET, a->in6.sin6_addr.s6_addr + 12, ip, (socklen_t)iplen);
    else inet_ntop(AF_INET6, &a->in6.sin6_addr, ip, (socklen_t)iplen);
    p = ntohs(a->in6.sin6_port);
  } else {
    inet_ntop(AF_INET, &a->in.sin_addr, ip, (socklen_t)iplen);
    p = ntohs(a->in.sin_port);
  }
  port[uint16_fmt(port, p)] = 0;
}

static void set_env(char const *name, char const *value)
{
  if (setenv(name, value, 1) < 0) strerr_dief1x(EXIT_TEMP, "out of memory");
}

/* Per-client TLSCIPHERS / TLSPROTOCOLS from the rules, where the command
   line set none: the keys stay in memory in the configuration, so this
   needs no file access. */
static void apply_client_settings(struct engine_prebuilt *pb, struct tlsconf const *conf, struct tlsconf const *opts)
{
  char const *ciphers = opts->ciphers ? 0 : getenv("TLSCIPHERS");
  char const *protocols = opts->protocols ? 0 : getenv("TLSPROTOCOLS");
  int changed = 0;
  if (ciphers && *ciphers && strcmp(ciphers, conf->ciphers)) {
    if (tls_config_set_ciphers(pb->cfg, ciphers) < 0) strerr_dief2x(EXIT_CONFIG, "invalid cipher list: ", ciphers);
    changed = 1;
  }
  if (protocols && *protocols && strcmp(protocols, conf->protocols)) {
    if (tlsconf_set_protocols(pb->cfg, protocols) < 0) strerr_dief2x(EXIT_CONFIG, "invalid protocol list: ", protocols);
    changed = 1;
  }
  if (changed) {
    char const *why;
    pb->ctx = tls_server();
    if (!pb->ctx) strerr_dief1x(EXIT_TEMP, "unable to allocate a TLS context");
    if (tickets_configure(pb->ctx, pb->cfg, tlsconf_tickets, &why) < 0) strerr_dief2x(EXIT_CONFIG, "unable to configure the per-client settings: ", why);
  }
}

static void connection_child(int s, union sockaddr_any const *local, union sockaddr_any const *remote,
                             stralloc const *rule_env, struct engine_prebuilt *pb,
                             struct tlsconf const *conf, struct tlsconf const *opts, char const *const *argv)
{
  char ip[INET6_ADDRSTRLEN], port[UINT16_FMT];
  size_t i;
  addr_string(local, ip, sizeof ip, port);
  set_env("PROTO", "TCP");
  set_env("TCPLOCALIP", ip); set_env("TCPLOCALPORT", port);
  addr_string(remote, ip, sizeof ip, port);
  set_env("TCPREMOTEIP", ip); set_env("TCPREMOTEPORT", port);
  unsetenv("TCPLOCALHOST"); unsetenv("TCPREMOTEHOST"); unsetenv("TCPREMOTEINFO");
  for (i = 0; i < rule_env->len; i += strlen(rule_env->s + i) + 1) {
    char *eq = strchr(rule_env->s + i, '=');
    if (!eq) continue;
    *eq = 0;
    set_env(rule_env->s + i, eq + 1);
    *eq = '=';
  }
  if (fd_move(0, s) < 0 || fd_copy(1, 0) < 0) strerr_dief1sys(EXIT_TEMP, "unable to set up descriptors");
  apply_client_settings(pb, conf, opts);
  engine_main(conf, argv, pb);
}

void engine_listen(struct tlsconf const *conf, struct tlsconf const *opts, char const *ip, char const *port,
                   unsigned int maxconn, char const *rules, char const *const *argv)
{
  struct engine_prebuilt pb;
  union sockaddr_any local;
  unsigned int active = 0;
  int lfd = listen_on(ip, port, &local);
  int sigfd = selfpipe_init();
  sigset_t set;
  stralloc rule_env = STRALLOC_ZERO;

  if (sigfd < 0) strerr_dief1sys(EXIT_TEMP, "selfpipe");
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD); sigaddset(&set, SIGHUP); sigaddset(&set, SIGTERM); sigaddset(&set, SIGINT);
  if (!selfpipe_trapset(&set)) strerr_dief1sys(EXIT_TEMP, "selfpipe_trapset");
  signal(SIGPIPE, SIG_IGN);
  pb.cfg = tlsconf_build(conf, &pb.ctx, &pb.report);
  /* The listener holds the keys for its whole life, and every fork of it
     until prog's exec: none of them may be read through /proc or ptrace. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (conf->verbosity >= 1) strerr_warni4x("listening on ", ip, " port ", port);

  for (;;) {
    iopause_fd x[2];
    unsigned int n = 1;
    x[0].fd = sigfd; x[0].events = IOPAUSE_READ;
    if (active < maxconn) { x[1].fd = lfd; x[1].events = IOPAUSE_READ; n = 2; }
    if (iopause_g(x, n, &tain_infinite) < 0) strerr_dief1sys(EXIT_TEMP, "iopause");

    if (x[0].revents) {
      int sig;
      while ((sig = selfpipe_read()) > 0) {
        if (sig == SIGCHLD) {
          int wstat;
          while (wait_nohang(&wstat) > 0) if (active) active--;
        } else if (sig == SIGHUP) {
          /* New certificates for new connections; current ones keep theirs. */
          struct engine_prebuilt fresh;
          pid_t pid;
          int wstat;
          /* Load in a child first: a bad file must not kill the listener. */
          pid = fork();
          if (!pid) {
            PROG = "tlsserver: reload";   /* its refusal line names the reload */
            tlsconf_build(conf, &fresh.ctx, &fresh.report);
            _exit(0);
          }
          if (pid > 0 && waitpid(pid, &wstat, 0) == pid && WIFEXITED(wstat) && !WEXITSTATUS(wstat)) {
            fresh.cfg = tlsconf_build(conf, &fresh.ctx, &fresh.report);
            tls_free(pb.ctx); tls_config_free(pb.cfg);
            if (pb.report) X509_STORE_free(pb.report);
            pb = fresh;
            if (conf->verbosity >= 1) strerr_warni1x("configuration reloaded");
          } else strerr_warnw1x("configuration not reloaded: keeping the previous one");
        } else {
          if (conf->verbosity >= 1) strerr_warni1x("exiting: current connections continue");
          _exit(0);
        }
      }
    }

    if (n == 2 && x[1].revents) {
      union sockaddr_any remote;
      socklen_t rlen = sizeof remote;
      int s = accept4(lfd, &remote.sa, &rlen, SOCK_CLOEXEC);
      char rip[INET6_ADDRSTRLEN], rport[UINT16_FMT];
      pid_t pid;
      if (s < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) strerr_warnwu1sys("accept");
        continue;
      }
      rule_env.len = 0;
      if (rules) {
        int r;
        addr_string(&remote, rip, sizeof rip, rport);
        r = accessrules_check(rules, rip, &rule_env);
        if (r <= 0) {
          if (r < 0) strerr_warnwu2sys("read rules ", rules);
          else if (conf->verbosity >= 1) strerr_warni4x("deny ", rip, " port ", rport);
          close(s);
          continue;
        }
      }
      pid = fork();
      if (pid < 0) { strerr_warnwu1sys("fork"); close(s); continue; }
      if (!pid) {
        close(lfd);
        selfpipe_finish();
        connection_child(s, &local, &remote, &rule_env, &pb, conf, opts, argv);
      }
      close(s);
      active++;
    }
  }
}
