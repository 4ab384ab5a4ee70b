#include <errno.h>
#include <string.h>
#include <skalibs/iopause.h>
#include "exitcodes.h"
#include "handshake.h"

void handshake_reason(struct reason *r, int code, struct netio const *net, char const *why)
{
  if (net->err) why = strerror(net->err);
  if (!why || !*why) why = "unknown error";
  /* libtls words every handshake error as "handshake failed: ..." and the
     log line already says so. */
  if (!strncmp(why, "handshake failed: ", 18)) why += 18;
  reason_tls(r, code, 0, 0, why);
}

static int run(struct tls *tls, struct netio *net, tain const *deadline, struct reason *r)
{
  for (;;) {
    iopause_fd x;
    int n = tls_handshake(tls);
    if (!n) return 0;
    if (n == TLS_WANT_POLLIN && net->saw_eof) {
      handshake_reason(r, EXIT_HANDSHAKE, net, net->raw_in ? "peer closed the connection during the handshake"
                                                           : "peer closed the connection before the handshake");
      return -1;
    }
    if (n != TLS_WANT_POLLIN && n != TLS_WANT_POLLOUT) {
      handshake_reason(r, EXIT_HANDSHAKE, net, tls_error(tls));
      return -1;
    }
    x.fd = n == TLS_WANT_POLLIN ? net->rfd : net->wfd;
    x.events = n == TLS_WANT_POLLIN ? IOPAUSE_READ : IOPAUSE_WRITE;
    n = iopause_g(&x, 1, deadline);
    if (n < 0) { reason_sys(r, EXIT_TEMP, "unable to iopause", 0, 0); return -1; }
    if (!n) { reason_set(r, EXIT_HANDSHAKE_TIMEOUT, "handshake deadline passed", 0, 0, 0); return -1; }
  }
}

int handshake_server(struct tls *ctx, struct tls **tls, struct netio *net, tain const *deadline, struct reason *r)
{
  if (tls_accept_cbs(ctx, tls, &netio_read_cb, &netio_write_cb, net) < 0) {
    handshake_reason(r, EXIT_HANDSHAKE, net, tls_error(ctx));
    return -1;
  }
  return run(*tls, net, deadline, r);
}

int handshake_client(struct tls *ctx, struct sesscache_args const *cache, struct netio *net, tain const *deadline, struct reason *r)
{
  char const *why;
  if (sesscache_connect(ctx, &netio_read_cb, &netio_write_cb, net, cache, &why) < 0) {
    handshake_reason(r, EXIT_HANDSHAKE, net, why);
    return -1;
  }
  return run(ctx, net, deadline, r);
}
