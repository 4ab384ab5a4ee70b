/* Delayed mode: wait for prog's command on SSLCTLFD (UCSPI-TLS).
   'y' / 'Y' start TLS; EOF declines; tlsclient's late socket arrives as
   'S' + parameters with the connected socket attached (SCM_RIGHTS). */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <skalibs/strerr.h>
#include <skalibs/djbunix.h>
#include "engine.h"

static void protocol_error(struct engine *e, char const *why, unsigned char byte) gccattr_noreturn;
static void protocol_error(struct engine *e, char const *why, unsigned char byte)
{
  static char const hex[] = "0123456789abcdef";
  char b[5] = { '0', 'x', hex[byte >> 4], hex[byte & 15], 0 };
  int status;
  /* The connection is shared with prog: shut it down for both. */
  if (e->net_present) shutdown(e->net.rfd >= 0 ? e->net.rfd : (e->conf->is_server ? 0 : 6), SHUT_RDWR);
  close(e->ctl);
  wait_pid(e->child, &status);
  strerr_dief4x(EXIT_PROTOCOL, why, byte ? " " : "", byte ? b : "", ": connection closed");
}

/* One recvmsg: data, and a descriptor if one is attached. */
static ssize_t recv_with_fd(int fd, char *buf, size_t len, int *passed)
{
  union { struct cmsghdr h; char space[CMSG_SPACE(sizeof(int))]; } ctrl;
  struct iovec iov = { buf, len };
  struct msghdr msg;
  struct cmsghdr *cm;
  ssize_t r;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov; msg.msg_iovlen = 1;
  msg.msg_control = ctrl.space; msg.msg_controllen = sizeof ctrl.space;
  do r = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC); while (r < 0 && errno == EINTR);
  if (r < 0) return r;
  for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
    if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
      int n = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int)), i;
      int fds[4];
      if (n > 4) n = 4;
      memcpy(fds, CMSG_DATA(cm), (size_t)n * sizeof(int));
      for (i = 0; i < n; i++) { if (*passed < 0) *passed = fds[i]; else close(fds[i]); }
    }
  }
  return r;
}

int engine_wait_command(struct engine *e, int *reply)
{
  char buf[CTLMSG_PARAMS_MAX + 64];
  size_t len = 0;
  int sock = -1, have_sock = 0;
  for (;;) {
    ssize_t r;
    while (len) {
      unsigned char cmd = (unsigned char)buf[0];
      if (cmd == 'y' || cmd == 'Y') {
        if (e->late_socket && !have_sock) protocol_error(e, "TLS requested before the late socket was sent", 0);
        *reply = cmd == 'Y';
        return 1;
      }
      if (cmd == 'S' && e->late_socket && !have_sock) {
        long used = ctlmsg_parse_socket(buf + 1, len - 1, &e->late);
        if (used < 0) protocol_error(e, "malformed late-socket message", 0);
        if (!used) break;
        if (sock < 0) protocol_error(e, "late-socket message without a descriptor", 0);
        netio_init(&e->net, sock, sock);
        e->net_present = have_sock = 1;
        len -= (size_t)used + 1;
        memmove(buf, buf + used + 1, len);
        continue;
      }
      protocol_error(e, "unknown control command", cmd);
    }
    if (len >= sizeof buf) protocol_error(e, "control message too long", 0);
    r = recv_with_fd(e->ctl, buf + len, sizeof buf - len, &sock);
    if (r < 0) strerr_dief1sys(EXIT_TEMP, "unable to read the control socket");
    if (!r) {
      if (sock >= 0 && !have_sock) close(sock);
      return 0;
    }
    len += (size_t)r;
  }
}
