#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/ancil.h>
#include <skalibs/djbunix.h>
#include "exitcodes.h"
#include "control.h"

static enum control_cmd refuse(struct reason *r, char const *why, unsigned char byte)
{
  static char const hex[] = "0123456789abcdef";
  char b[6] = { ' ', '0', 'x', hex[byte >> 4], hex[byte & 15], 0 };
  reason_set(r, EXIT_PROTOCOL, why, byte ? b : 0, 0, 0);
  return CONTROL_ERROR;
}

enum control_cmd control_wait(int ctl, struct ctlmsg_socket *late, int *sock, struct reason *r)
{
  char buf[CTLMSG_PARAMS_MAX + 64];
  size_t len = 0;
  int in_socket_msg = 0;
  *sock = -1;
  for (;;) {
    ssize_t n;
    while (len && !in_socket_msg) {
      unsigned char cmd = (unsigned char)buf[0];
      if (cmd == 'y' || cmd == 'Y') {
        if (late && *sock < 0) return refuse(r, "TLS requested before the late socket was sent", 0);
        return cmd == 'Y' ? CONTROL_TLS_REPLY : CONTROL_TLS;
      }
      return refuse(r, "unknown control command", cmd);
    }
    if (in_socket_msg && len) {
      long used = ctlmsg_parse_socket(buf, len, late);
      if (used < 0) return refuse(r, "malformed late-socket message", 0);
      if (used) {
        in_socket_msg = 0;
        len -= (size_t)used;
        memmove(buf, buf + used, len);
        continue;
      }
    }
    if (len >= sizeof buf) return refuse(r, "control message too long", 0);
    if (late && *sock < 0 && !len && !in_socket_msg) {
      /* The socket travels with the 'S' byte. */
      char first;
      n = recv(ctl, &first, 1, MSG_PEEK);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) { reason_sys(r, EXIT_TEMP, "unable to read the control socket", 0, 0); return CONTROL_ERROR; }
      if (!n) return CONTROL_DECLINED;
      if (first == 'S') {
        *sock = ancil_recv_fd(ctl, 'S');
        if (*sock < 0) return refuse(r, "late-socket message without a descriptor", 0);
        in_socket_msg = 1;
        continue;
      }
    }
    n = fd_read(ctl, buf + len, sizeof buf - len);
    if (n < 0) { reason_sys(r, EXIT_TEMP, "unable to read the control socket", 0, 0); return CONTROL_ERROR; }
    if (!n) return CONTROL_DECLINED;   /* the caller closes a socket that came */
    len += (size_t)n;
  }
}

void control_send(int ctl, char const *s, size_t len)
{
  while (len) {
    ssize_t w = send(ctl, s, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w <= 0) break;
    s += w; len -= (size_t)w;
  }
}
