#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <skalibs/iopause.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include "engine.h"
#include "sesscache.h"
#include "tickets.h"

/* A tlsclient session is configured when the server name and trust anchors
   are known: at start, or when a late socket brought its own. */
static int client_configure(struct engine *e)
{
  struct tlsconf const *c = e->conf;
  int verify = !c->insecure;
  if (e->late_socket) {
    if (e->late.cafile[0] && tls_config_set_ca_file(e->cfg, e->late.cafile) < 0) {
      engine_set_failure(e, "unable to load the CA file of the late socket");
      return -1;
    }
    verify = verify && e->late.verify;
  }
  /* No trust anchors given: the system store, by hashed directory when
     there is one (one file read per lookup instead of the whole bundle). */
  if (verify && !c->cafile && !c->cadir && !(e->late_socket && e->late.cafile[0]) && tlsconf_system_ca_dir()
      && tls_config_set_ca_path(e->cfg, tlsconf_system_ca_dir()) < 0) {
    engine_set_failure(e, tls_config_error(e->cfg));
    return -1;
  }
  if (verify) tls_config_verify(e->cfg);
  else {
    tls_config_insecure_noverifycert(e->cfg);
    tls_config_insecure_noverifyname(e->cfg);
  }
  e->libtls_verified = verify;
  e->ctx = tls_client();
  if (!e->ctx) strerr_dief1x(EXIT_TEMP, "unable to allocate a TLS context");
  if (tls_configure(e->ctx, e->cfg) < 0) {
    engine_set_failure(e, tls_error(e->ctx));
    return -1;
  }
  return 0;
}

/* TLS_SESSIONCACHE: sessions are offered only under the trust settings
   they were made under. */
static void client_cache_args(struct engine *e, struct sesscache_args *a, char const *name)
{
  static char trust[2200];
  struct tlsconf const *c = e->conf;
  char const *cafile = e->late_socket && e->late.cafile[0] ? e->late.cafile : c->cafile;
  if (tickets_lifetime(getenv("TLS_TICKETLIFETIME"), &a->lifetime) < 0) a->lifetime = TICKETS_LIFETIME_DEFAULT;
  snprintf(trust, sizeof trust, "verify=%d cafile=%s cadir=%s", e->libtls_verified, cafile ? cafile : "", c->cadir ? c->cadir : "");
  a->dir = getenv("TLS_SESSIONCACHE");
  a->servername = name;
  a->trust = trust;
  a->netfd = e->net.rfd;
}

int engine_handshake(struct engine *e)
{
  struct tlsconf const *c = e->conf;
  tain deadline;
  tain_now_g();
  if (c->handshake_ms) {
    tain d;
    tain_from_millisecs(&d, (int)c->handshake_ms);
    tain_add_g(&deadline, &d);
  } else deadline = tain_infinite;

  if (c->is_server) {
    e->libtls_verified = c->clientcert == CLIENTCERT_REQUIRED;
    if (tls_accept_cbs(e->ctx, &e->tls, &netio_read_cb, &netio_write_cb, &e->net) < 0) {
      engine_set_failure(e, tls_error(e->ctx));
      return EXIT_HANDSHAKE;
    }
  } else {
    char const *name = e->late_socket ? e->late.host : c->servername;
    struct sesscache_args cache;
    char const *why;
    if (client_configure(e) < 0) return EXIT_HANDSHAKE;
    client_cache_args(e, &cache, name);
    if (sesscache_connect(e->ctx, &netio_read_cb, &netio_write_cb, &e->net, &cache, &why) < 0) {
      engine_set_failure(e, why);
      return EXIT_HANDSHAKE;
    }
    e->tls = e->ctx;
  }

  for (;;) {
    iopause_fd x;
    int r = tls_handshake(e->tls);
    if (!r) return 0;
    if (r == TLS_WANT_POLLIN && e->net.saw_eof) {
      engine_set_failure(e, e->net.raw_in ? "peer closed the connection during the handshake"
                                          : "peer closed the connection before the handshake");
      return EXIT_HANDSHAKE;
    }
    if (r != TLS_WANT_POLLIN && r != TLS_WANT_POLLOUT) {
      engine_set_failure(e, tls_error(e->tls));
      return EXIT_HANDSHAKE;
    }
    x.fd = r == TLS_WANT_POLLIN ? e->net.rfd : e->net.wfd;
    x.events = r == TLS_WANT_POLLIN ? IOPAUSE_READ : IOPAUSE_WRITE;
    r = iopause_g(&x, 1, &deadline);
    if (r < 0) strerr_dief1sys(EXIT_TEMP, "iopause");
    if (!r) {
      engine_set_failure(e, "handshake deadline passed");
      return EXIT_HANDSHAKE_TIMEOUT;
    }
  }
}
