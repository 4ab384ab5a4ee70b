#!/bin/bash
# The program-side helper src/client/ucspitls_client.[ch] on its own:
# - it builds warning free as C89/gnu89 (old qmail Makefiles) and C99, with
#   gcc and clang when present;
# - against fake engines (a forked process on a socketpair): the Y reply
#   parsed strictly (set, unset, empty list, failure with and without
#   SSL_ERROR, malformed names, a reply over 64 KiB, a reply written byte by
#   byte, a reply whose control socket stays open afterwards, a non-blocking
#   control socket, an engine that has gone away); the late-socket message
#   byte for byte with its descriptor; ucspitls_switch with pipes, with one
#   socketpair end, with a target that is one of the sources.
. "$(dirname "$0")/lib.sh"
need_cmds cc
SRC=$TOP/src/client
[ -f "$SRC/ucspitls_client.c" ] || skip_all "no src/client/ucspitls_client.c"

# ---------------------------------------------------------------- builds
STRICT="-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror"
ok "gcc -std=c99 -D_GNU_SOURCE (the package's flags)" cc -std=c99 -D_GNU_SOURCE $STRICT -c -o "$W/a.o" "$SRC/ucspitls_client.c"
ok "gcc -std=gnu89 (old qmail builds)" cc -std=gnu89 $STRICT -c -o "$W/b.o" "$SRC/ucspitls_client.c"
ok "gcc -std=c89 -pedantic" cc -std=c89 -pedantic $STRICT -c -o "$W/c.o" "$SRC/ucspitls_client.c"
ok "plain cc -O2, no feature macros (qmail's conf-cc)" cc -O2 $STRICT -c -o "$W/d.o" "$SRC/ucspitls_client.c"
if have clang; then
  ok "clang -std=c99" clang -std=c99 $STRICT -c -o "$W/e.o" "$SRC/ucspitls_client.c"
else
  skip "clang not installed"
fi
ok "the header alone compiles as C89" sh -c "printf '#include \"ucspitls_client.h\"\nint main(void) { return ucspitls_available(); }\n' > '$W/h.c' && cc -std=c89 -pedantic $STRICT -I'$SRC' -c -o '$W/h.o' '$W/h.c'"

# ---------------------------------------------------------------- behaviour
cat > "$W/t.c" <<'EOF'
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "ucspitls_client.h"

static void check(int cond, const char *desc)
{
  printf("%s %s\n", cond ? "PASS" : "FAIL", desc);
  fflush(stdout);
}

static void setfd(const char *name, int fd)
{
  char b[16];
  snprintf(b, sizeof b, "%d", fd);
  setenv(name, b, 1);
}

/* fake engine: read one byte (must be Y), write the reply (in chunks of
   `chunk` bytes, 0 = at once), then keep the socket open `hold` seconds */
static int fake(const char *reply, size_t len, size_t chunk, int hold, int nonblock, char *err, size_t errlen)
{
  int sv[2], st, r;
  pid_t p;
  char c;
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  p = fork();
  if (!p) {
    size_t i = 0;
    close(sv[0]);
    if (read(sv[1], &c, 1) != 1 || c != 'Y') _exit(9);
    while (i < len) {
      size_t n = chunk && len - i > chunk ? chunk : len - i;
      ssize_t w = write(sv[1], reply + i, n);
      if (w <= 0) _exit(8);
      i += (size_t)w;
      if (chunk) usleep(2000);
    }
    if (hold) sleep((unsigned)hold);
    _exit(0);
  }
  close(sv[1]);
  if (nonblock) fcntl(sv[0], F_SETFL, O_NONBLOCK);
  setfd("SSLCTLFD", sv[0]);
  alarm(10);
  r = ucspitls_starttls(err, errlen);
  alarm(0);
  kill(p, SIGTERM);
  waitpid(p, &st, 0);
  close(sv[0]);
  return r;
}

int main(void)
{
  char err[128], big[70000], buf[5000];
  int r;
  signal(SIGPIPE, SIG_DFL);   /* the helper must not die of SIGPIPE by itself */

  /* ---- ucspitls_available */
  unsetenv("SSLCTLFD"); unsetenv("SSLREADFD"); unsetenv("SSLWRITEFD");
  check(ucspitls_available() == 0, "available: 0 without the variables");
  setfd("SSLCTLFD", 0); setfd("SSLREADFD", 1); setenv("SSLWRITEFD", "2x", 1);
  check(ucspitls_available() == 0, "available: 0 when a value is not a number");
  setfd("SSLWRITEFD", 999);
  check(ucspitls_available() == 0, "available: 0 when a descriptor is not open");
  setfd("SSLWRITEFD", 2);
  check(ucspitls_available() == 1, "available: 1 with three open descriptors");

  /* ---- ucspitls_starttls */
  setenv("SSL_OLD", "forged", 1);
  r = fake("SSL_PROTOCOL=TLSv1.3\0SSL_OLD\0SSL_CIPHER=A=B\0\0", 45, 0, 0, 0, err, sizeof err);
  check(r == 1, "starttls: 1 on a complete reply");
  check(getenv("SSL_PROTOCOL") && !strcmp(getenv("SSL_PROTOCOL"), "TLSv1.3"), "starttls: NAME=value set");
  check(!getenv("SSL_OLD"), "starttls: a name without '=' unsets");
  check(getenv("SSL_CIPHER") && !strcmp(getenv("SSL_CIPHER"), "A=B"), "starttls: value split at the first '='");

  r = fake("\0", 1, 0, 0, 0, err, sizeof err);
  check(r == 1, "starttls: a lone NUL is an empty list (success)");

  r = fake("SSL_A=1\0SSL_B=2\0\0", 17, 1, 0, 0, err, sizeof err);
  check(r == 1 && getenv("SSL_B") && !strcmp(getenv("SSL_B"), "2"), "starttls: reply written byte by byte");

  r = fake("SSL_HOLD=1\0\0", 12, 0, 3, 0, err, sizeof err);
  check(r == 1, "starttls: returns at the terminator while the control socket stays open");

  r = fake("SSL_NB=1\0\0", 10, 3, 0, 1, err, sizeof err);
  check(r == 1 && getenv("SSL_NB"), "starttls: non-blocking control socket");

  setenv("SSL_KEEP", "k", 1);
  r = fake("SSL_KEEP\0SSL_ERROR=bad certificate\0", 35, 0, 0, 0, err, sizeof err);
  check(r == 0, "starttls: 0 when the socket closes before the terminator");
  check(!strcmp(err, "bad certificate"), "starttls: err holds SSL_ERROR's reason");
  check(getenv("SSL_KEEP") != 0, "starttls: nothing applied from a failed reply");

  r = fake("", 0, 0, 0, 0, err, sizeof err);
  check(r == 0 && !strcmp(err, "no reason given"), "starttls: immediate EOF: 0, \"no reason given\"");

  r = fake("SSL_ERROR=cut", 13, 0, 0, 0, err, sizeof err);
  check(r == 0 && !strcmp(err, "no reason given"), "starttls: an unterminated SSL_ERROR entry is not used");

  r = fake("SSL_ERROR=a long reason\0", 24, 0, 0, 0, err, 7);
  check(r == 0 && !strcmp(err, "a long"), "starttls: err truncated to errlen-1 and NUL-terminated");

  r = fake("=x\0\0", 4, 0, 0, 0, err, sizeof err);
  check(r == -1 && errno == EPROTO, "starttls: empty name: -1, EPROTO");
  r = fake("SSL A=1\0\0", 9, 0, 0, 0, err, sizeof err);
  check(r == -1 && errno == EPROTO, "starttls: space in a name: -1, EPROTO");
  r = fake("1SSL=1\0\0", 8, 0, 0, 0, err, sizeof err);
  check(r == -1 && errno == EPROTO, "starttls: name starting with a digit: -1, EPROTO");
  setenv("SSL_ATOMIC", "before", 1);
  r = fake("SSL_ATOMIC=after\0bad name\0\0", 27, 0, 0, 0, err, sizeof err);
  check(r == -1 && !strcmp(getenv("SSL_ATOMIC"), "before"), "starttls: a malformed reply changes nothing");

  memset(big, 'x', sizeof big);
  memcpy(big, "SSL_BIG=", 8);
  r = fake(big, sizeof big, 0, 0, 0, err, sizeof err);
  check(r == -1 && errno == EMSGSIZE, "starttls: reply over 64 KiB: -1, EMSGSIZE");

  {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    close(sv[1]);
    setfd("SSLCTLFD", sv[0]);
    r = ucspitls_starttls(err, sizeof err);
    check(r == -1 && errno == EPIPE, "starttls: engine gone: -1, EPIPE (no SIGPIPE)");
    close(sv[0]);
  }
  unsetenv("SSLCTLFD");
  r = ucspitls_starttls(err, sizeof err);
  check(r == -1 && err[0], "starttls: no SSLCTLFD: -1 with a message");

  /* ---- ucspitls_send_socket */
  {
    int ctl[2], net[2], got = -1;
    struct msghdr m;
    struct iovec io;
    union { struct cmsghdr h; char s[CMSG_SPACE(sizeof(int))]; } cb;
    struct cmsghdr *c;
    ssize_t n;
    char host[300];
    socketpair(AF_UNIX, SOCK_STREAM, 0, ctl);
    socketpair(AF_UNIX, SOCK_STREAM, 0, net);
    setfd("SSLCTLFD", ctl[0]);
    r = ucspitls_send_socket(net[0], "mx.example", "/q/control/tlshosts/mx.example.pem", 1);
    check(r == 0, "send_socket: 0");
    memset(&m, 0, sizeof m);
    io.iov_base = buf; io.iov_len = sizeof buf;
    m.msg_iov = &io; m.msg_iovlen = 1; m.msg_control = cb.s; m.msg_controllen = sizeof cb.s;
    n = recvmsg(ctl[1], &m, 0);
    for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) memcpy(&got, CMSG_DATA(c), sizeof got);
    {
      static const char want[] = "Shost=mx.example\0cafile=/q/control/tlshosts/mx.example.pem\0verify=1\0";
      check(n == (ssize_t)sizeof want && !memcmp(buf, want, sizeof want),
          "send_socket: the block, byte for byte");
    }
    check(got >= 0 && write(got, "z", 1) == 1 && read(net[1], buf, 1) == 1 && buf[0] == 'z',
          "send_socket: the descriptor travelled and is the same socket");
    check(fcntl(net[0], F_GETFD) != -1, "send_socket: the caller keeps its own descriptor");
    r = ucspitls_send_socket(net[0], "10.0.0.1", "", 0);
    n = read(ctl[1], buf, sizeof buf);
    check(r == 0 && n == 25 && !memcmp(buf, "Shost=10.0.0.1\0verify=0\0\0", 25), "send_socket: no cafile, verify=0");
    r = ucspitls_send_socket(net[0], "", 0, 1);
    check(r == -1 && errno == EINVAL, "send_socket: empty host: EINVAL");
    memset(host, 'a', sizeof host); host[256] = 0;
    r = ucspitls_send_socket(net[0], host, 0, 1);
    check(r == -1 && errno == EINVAL, "send_socket: host of 256 bytes: EINVAL");
    host[255] = 0;
    r = ucspitls_send_socket(net[0], host, 0, 1);
    check(r == 0, "send_socket: host of 255 bytes accepted");
    close(ctl[0]); close(ctl[1]); close(net[0]); close(net[1]);
    if (got >= 0) close(got);
  }

  /* ---- ucspitls_switch */
  {
    int a[2], b[2], ctl[2], x;
    pipe(a); pipe(b); socketpair(AF_UNIX, SOCK_STREAM, 0, ctl);
    /* targets 20/21 stand for 0/1 */
    setfd("SSLREADFD", a[0]); setfd("SSLWRITEFD", b[1]); setfd("SSLCTLFD", ctl[0]);
    r = ucspitls_switch(20, 21);
    x = write(a[1], "r", 1) == 1 && read(20, buf, 1) == 1 && buf[0] == 'r'
        && write(21, "w", 1) == 1 && read(b[0], buf, 1) == 1 && buf[0] == 'w';
    check(r == 0 && x, "switch: pipes moved onto the targets");
    check(fcntl(a[0], F_GETFD) == -1 && fcntl(b[1], F_GETFD) == -1 && fcntl(ctl[0], F_GETFD) == -1,
          "switch: originals and SSLCTLFD closed");
    check(!getenv("SSLCTLFD") && !getenv("SSLREADFD") && !getenv("SSLWRITEFD"), "switch: the three variables unset");
    close(20); close(21); close(a[1]); close(b[0]); close(ctl[1]);
  }
  {
    int s[2], ctl[2], sock;
    socketpair(AF_UNIX, SOCK_STREAM, 0, s); socketpair(AF_UNIX, SOCK_STREAM, 0, ctl);
    sock = dup(ctl[1]);       /* stands for the program's own TCP socket */
    setfd("SSLREADFD", s[0]); setfd("SSLWRITEFD", s[0]); setfd("SSLCTLFD", ctl[0]);
    r = ucspitls_switch(sock, sock);
    check(r == 0 && write(s[1], "q", 1) == 1 && read(sock, buf, 1) == 1 && buf[0] == 'q'
          && write(sock, "p", 1) == 1 && read(s[1], buf, 1) == 1 && buf[0] == 'p',
          "switch: late socket, one socketpair end onto the socket's number");
    check(fcntl(s[0], F_GETFD) == -1, "switch: late socket, the original closed");
    close(sock); close(s[1]); close(ctl[1]);
  }
  {
    int a[2], b[2], ctl[2], rfd;
    pipe(a); pipe(b); socketpair(AF_UNIX, SOCK_STREAM, 0, ctl);
    rfd = b[1];                 /* the read target is SSLWRITEFD's number */
    setfd("SSLREADFD", a[0]); setfd("SSLWRITEFD", b[1]); setfd("SSLCTLFD", ctl[0]);
    r = ucspitls_switch(rfd, 30);
    check(r == 0 && write(a[1], "1", 1) == 1 && read(rfd, buf, 1) == 1 && buf[0] == '1'
          && write(30, "2", 1) == 1 && read(b[0], buf, 1) == 1 && buf[0] == '2',
          "switch: a target that is SSLWRITEFD's number does not lose SSLWRITEFD");
    close(rfd); close(30); close(a[1]); close(b[0]); close(ctl[1]);
  }
  {
    int a[2], b[2], ctl[2];
    pipe(a); pipe(b); socketpair(AF_UNIX, SOCK_STREAM, 0, ctl);
    setfd("SSLREADFD", a[0]); setfd("SSLWRITEFD", b[1]); setfd("SSLCTLFD", ctl[0]);
    r = ucspitls_switch(40, -1);
    check(r == 0 && fcntl(b[1], F_GETFD) != -1 && fcntl(a[0], F_GETFD) == -1, "switch: -1 leaves that descriptor open");
    close(40); close(b[1]); close(a[1]); close(b[0]); close(ctl[1]);
  }
  return 0;
}
EOF
if cc -std=c99 -Wall -Wextra -Wno-unused-result -I"$SRC" -o "$W/t" "$W/t.c" "$SRC/ucspitls_client.c" >"$W/cc.log" 2>&1; then
  pass "behaviour test program builds"
  timeout 60 "$W/t" > "$W/t.out" 2>"$W/t.err"
  rc=$?
  while IFS= read -r line; do
    case $line in
      PASS\ *) pass "${line#PASS }" ;;
      FAIL\ *) fail "${line#FAIL }" ;;
    esac
  done < "$W/t.out"
  is "$rc" 0 "behaviour test program ran to its end"
else
  fail "behaviour test program builds"; diag_file "$W/cc.log"
fi

done_testing
