/* The relay: plaintext between the application's pipes and the TLS
   session, both directions at once, until both are closed.

   Close rules (no byte is lost in any order):
   - prog closes its write side: everything it wrote is sent, then
     close_notify (or a bare TCP half-close with -s); the peer's reply is
     still delivered until the peer closes.
   - peer sends close_notify: prog reads EOF once everything before it is
     delivered; prog may still answer; ours follows prog's EOF.
   - peer closes TCP without close_notify: same as above, logged unclean.
   libtls may hold decrypted bytes that poll() cannot see, so tls_read is
   called again whenever it has not said TLS_WANT_*. */
#include <errno.h>
#include <unistd.h>
#include <sys/socket.h>
#include <skalibs/iopause.h>
#include <skalibs/tai.h>
#include "exitcodes.h"
#include "handshake.h"
#include "relay.h"

#define RELAY_BUFSIZE 65536

struct direction {
  char buf[RELAY_BUFSIZE];
  size_t len, off;          /* pending bytes are buf[off..len) */
};

static struct direction to_app, to_net;

enum { NET_OPEN = 0, NET_EOF_CLEAN, NET_EOF_UNCLEAN };
enum { SHUT_NOT_YET = 0, SHUT_DONE };

/* Which poll event a libtls call that returned TLS_WANT_* is waiting for. */
static short want_of(ssize_t r)
{
  return r == TLS_WANT_POLLIN ? IOPAUSE_READ : IOPAUSE_WRITE;
}

/* A reset (or broken pipe) once prog's output has all been handed to TLS:
   the peer left abruptly after getting everything, as many SMTP clients do
   after "221". Nothing of ours was lost: that is an unclean close, not an
   error. */
static int peer_aborted(struct netio const *net)
{
  return net->err == ECONNRESET || net->err == EPIPE;
}

static void fail(struct summary *s, struct netio const *net, char const *why)
{
  handshake_reason(&s->why, EXIT_IOERROR, net, why);
  s->close = CLOSE_ERROR;
}

void relay_run(struct tls *tls, struct netio *net, struct appchan *app, unsigned int idle_ms, int close_notify, struct summary *s)
{
  int net_state = NET_OPEN, shut_state = SHUT_NOT_YET, app_eof = 0;
  short tls_read_want = 0, tls_write_want = 0, tls_close_want = 0;
  int app_read_want = 0, app_write_want = 0;
  tain idle, deadline;

  if (idle_ms) tain_from_millisecs(&idle, (int)idle_ms);
  tain_now_g();
  if (idle_ms) tain_add_g(&deadline, &idle); else deadline = tain_infinite;

  for (;;) {
    iopause_fd x[3];
    unsigned int n = 0;
    int xnet = -1, xnetw = -1, xappr = -1, xappw = -1, progress, moved = 0, r;

    do {
      ssize_t w;
      progress = 0;

      /* peer -> to_app buffer */
      while (net_state == NET_OPEN && !tls_read_want && to_app.len < RELAY_BUFSIZE) {
        w = tls_read(tls, to_app.buf + to_app.len, RELAY_BUFSIZE - to_app.len);
        if (w > 0) { to_app.len += (size_t)w; s->bytes_in += (unsigned long long)w; progress = moved = 1; }
        else if (!w) { net_state = NET_EOF_CLEAN; progress = 1; }
        else if (w == TLS_WANT_POLLIN && net->saw_eof) { net_state = NET_EOF_UNCLEAN; progress = 1; }
        else if (w == TLS_WANT_POLLIN || w == TLS_WANT_POLLOUT) tls_read_want = want_of(w);
        else if (app_eof && !to_net.len && peer_aborted(net)) { net_state = NET_EOF_UNCLEAN; shut_state = SHUT_DONE; progress = 1; }
        else { fail(s, net, tls_error(tls)); goto end; }
      }

      /* to_app buffer -> prog */
      if (to_app.off < to_app.len && app->wfd >= 0 && !app_write_want) {
        w = write(app->wfd, to_app.buf + to_app.off, to_app.len - to_app.off);
        if (w > 0) { to_app.off += (size_t)w; progress = moved = 1; }
        else if (errno == EAGAIN || errno == EINTR) app_write_want = 1;
        else appchan_close_write(app);   /* prog stopped reading: what it would get is dropped */
      }
      if (app->wfd < 0) to_app.off = to_app.len;
      if (to_app.off == to_app.len && to_app.len) { to_app.off = to_app.len = 0; progress = 1; }
      if (net_state != NET_OPEN && !to_app.len && app->wfd >= 0) { appchan_close_write(app); progress = 1; }

      /* prog -> to_net buffer */
      if (!to_net.len && app->rfd >= 0 && !app_read_want) {
        w = read(app->rfd, to_net.buf, RELAY_BUFSIZE);
        if (w > 0) { to_net.len = (size_t)w; to_net.off = 0; progress = moved = 1; }
        else if (w < 0 && (errno == EAGAIN || errno == EINTR)) app_read_want = 1;
        else { app_eof = 1; appchan_close_read(app); progress = 1; }
      }

      /* to_net buffer -> peer */
      if (to_net.off < to_net.len && !tls_write_want) {
        w = tls_write(tls, to_net.buf + to_net.off, to_net.len - to_net.off);
        if (w > 0) {
          to_net.off += (size_t)w; s->bytes_out += (unsigned long long)w; progress = moved = 1;
          if (to_net.off == to_net.len) to_net.off = to_net.len = 0;
        }
        else if (w == TLS_WANT_POLLIN && net->saw_eof) { fail(s, net, "peer closed the connection"); goto end; }
        else if (w == TLS_WANT_POLLIN || w == TLS_WANT_POLLOUT) tls_write_want = want_of(w);
        else { fail(s, net, tls_error(tls)); goto end; }
      }

      /* prog is done writing and all of it is sent: close our direction */
      if (app_eof && !to_net.len && shut_state == SHUT_NOT_YET && !tls_close_want) {
        if (close_notify) {
          w = tls_close(tls);
          if (w == TLS_WANT_POLLOUT || (w == TLS_WANT_POLLIN && !net->saw_eof)) tls_close_want = want_of(w);
          else { shut_state = SHUT_DONE; shutdown(net->wfd, SHUT_WR); progress = 1; }
        } else { shut_state = SHUT_DONE; shutdown(net->wfd, SHUT_WR); progress = 1; }
      }
    } while (progress);

    if (shut_state == SHUT_DONE && net_state != NET_OPEN && app->wfd < 0) {
      s->close = net_state == NET_EOF_CLEAN ? CLOSE_CLEAN : CLOSE_UNCLEAN;
      break;
    }

    tain_now_g();
    if (moved && idle_ms) tain_add_g(&deadline, &idle);

    /* Wait for whatever blocked. The network descriptor may be wanted by
       several libtls calls for different events. */
    {
      short rev = 0, wev = 0;
      short wants[3] = { tls_read_want, tls_write_want, tls_close_want };
      int i;
      for (i = 0; i < 3; i++) { if (wants[i] == IOPAUSE_READ) rev = IOPAUSE_READ; else if (wants[i]) wev = IOPAUSE_WRITE; }
      if (net->rfd == net->wfd) {
        if (rev || wev) { xnet = xnetw = n; x[n].fd = net->rfd; x[n++].events = rev | wev; }
      } else {
        if (rev) { xnet = n; x[n].fd = net->rfd; x[n++].events = rev; }
        if (wev) { xnetw = n; x[n].fd = net->wfd; x[n++].events = wev; }
      }
    }
    if (app_read_want && app->rfd >= 0) { xappr = n; x[n].fd = app->rfd; x[n++].events = IOPAUSE_READ; }
    if (app_write_want && app->wfd >= 0) {
      if (xappr >= 0 && app->wfd == app->rfd) { xappw = xappr; x[xappr].events |= IOPAUSE_WRITE; }
      else { xappw = n; x[n].fd = app->wfd; x[n++].events = IOPAUSE_WRITE; }
    }

    r = iopause_g(x, n, &deadline);
    if (r < 0) { reason_sys(&s->why, EXIT_TEMP, "unable to iopause", 0, 0); s->close = CLOSE_SYSTEM; break; }
    if (!r) { s->close = CLOSE_IDLE; break; }
    if (xnet >= 0 && x[xnet].revents) {
      short got = x[xnet].revents & (IOPAUSE_READ | IOPAUSE_EXCEPT) ? IOPAUSE_READ : 0;
      if (xnet == xnetw && x[xnet].revents & (IOPAUSE_WRITE | IOPAUSE_EXCEPT)) got |= IOPAUSE_WRITE;
      if (x[xnet].revents & IOPAUSE_EXCEPT) got = IOPAUSE_READ | IOPAUSE_WRITE;
      if (tls_read_want & got) tls_read_want = 0;
      if (tls_write_want & got) tls_write_want = 0;
      if (tls_close_want & got) tls_close_want = 0;
    }
    if (xnetw >= 0 && xnetw != xnet && x[xnetw].revents) {
      if (tls_read_want == IOPAUSE_WRITE) tls_read_want = 0;
      if (tls_write_want == IOPAUSE_WRITE) tls_write_want = 0;
      if (tls_close_want == IOPAUSE_WRITE) tls_close_want = 0;
    }
    if (xappr >= 0 && x[xappr].revents & (IOPAUSE_READ | IOPAUSE_EXCEPT)) app_read_want = 0;
    if (xappw >= 0 && x[xappw].revents & (IOPAUSE_WRITE | IOPAUSE_EXCEPT)) app_write_want = 0;
  }
 end:
  /* Whatever prog still holds sees EOF now. */
  appchan_close(app);
}
