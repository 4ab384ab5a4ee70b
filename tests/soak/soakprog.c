/* soakprog: the application behind tlsserver in the soak and exhaustion
 * tests. Plain libc, no TLS: tests/soak/run and the tests compile it with
 * `cc -O2 -o soakprog soakprog.c`.
 *
 *   soakprog        immediate mode: plaintext on fds 0/1, SSL_PROTOCOL must be set
 *   soakprog -n     delayed mode (UCSPI-TLS): on fds 0/1 (the network, still
 *                   plaintext) write "220 soak\r\n", read one line, which
 *                   must be "STARTTLS\r\n", write "220 go\r\n", send 'Y' on
 *                   SSLCTLFD, read the reply up to its empty entry, then use
 *                   SSLREADFD / SSLWRITEFD. A reply without SSL_PROTOCOL or
 *                   cut short by EOF: exit 1 (the TLS start failed).
 *
 * Then one request, a byte and a 4-byte big-endian length L:
 *   'E'  read L bytes and echo each as it comes; then exit 0
 *   'F'  write L bytes (a pattern) without reading anything; then exit 0
 *   'Z'  read and discard until EOF; then exit 0 (back-pressure tests)
 * Exit 3: EOF before the request or the L bytes were complete. Exit 4: a
 * write failed (the engine closed our pipe). SIGPIPE stays default.
 * Nothing is written to stderr except one line on a failure.
 * SOAKPROG_MARK=file: create that file first (tests: "did prog run?").
 * SOAKPROG_REPLY=file (delayed mode): write the 'Y' reply block there. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char buf[65536];

static void die(int code, char const *why)
{
  fprintf(stderr, "soakprog: %s\n", why);
  _exit(code);
}

static ssize_t rd(int fd, char *b, size_t n)
{
  ssize_t r;
  do r = read(fd, b, n); while (r < 0 && errno == EINTR);
  return r;
}

static void wr(int fd, char const *b, size_t n)
{
  while (n) {
    ssize_t w = write(fd, b, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) die(4, "write failed");
    b += w; n -= (size_t)w;
  }
}

static void rd_full(int fd, char *b, size_t n)
{
  while (n) {
    ssize_t r = rd(fd, b, n);
    if (r <= 0) _exit(3);
    b += r; n -= (size_t)r;
  }
}

static int envfd(char const *name)
{
  char const *s = getenv(name);
  if (!s || !*s) die(100, "UCSPI-TLS variables missing (not under tlsserver -n?)");
  return atoi(s);
}

/* Delayed mode: the STARTTLS dialogue, then 'Y' and its reply. */
static void start_tls(int *rfd, int *wfd)
{
  char line[64];
  size_t n = 0;
  int ctl = envfd("SSLCTLFD");
  static char reply[16384];
  size_t rlen = 0;
  *rfd = envfd("SSLREADFD");
  *wfd = envfd("SSLWRITEFD");
  wr(1, "220 soak\r\n", 10);
  for (;;) {                      /* byte by byte: nothing after the line is ours */
    ssize_t r = rd(0, line + n, 1);
    if (r <= 0) _exit(3);
    if (line[n++] == '\n') break;
    if (n >= sizeof line - 1) die(2, "line too long");
  }
  line[n] = 0;
  if (strcmp(line, "STARTTLS\r\n")) die(2, "expected STARTTLS");
  wr(1, "220 go\r\n", 8);
  wr(ctl, "Y", 1);
  for (;;) {
    ssize_t r;
    if (rlen == sizeof reply) die(1, "TLS reply too long");
    r = rd(ctl, reply + rlen, sizeof reply - rlen);
    if (r <= 0) _exit(1);         /* no complete reply: the handshake failed */
    rlen += (size_t)r;
    if ((rlen == 1 && !reply[0]) || (rlen >= 2 && !reply[rlen - 1] && !reply[rlen - 2])) break;
  }
  {
    char const *f = getenv("SOAKPROG_REPLY");
    if (f && *f) {
      int fd = open(f, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
      if (fd >= 0) { wr(fd, reply, rlen); close(fd); }
    }
  }
  if (rlen < 14 || !memmem(reply, rlen, "SSL_PROTOCOL=", 13)) die(1, "TLS reply without SSL_PROTOCOL");
  /* The raw network descriptors are not needed any more. */
  close(0); close(1);
}

int main(int argc, char **argv)
{
  int rfd = 0, wfd = 1;
  unsigned char h[5];
  unsigned long len;
  char const *mark = getenv("SOAKPROG_MARK");
  if (mark && *mark) {
    int fd = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) die(111, "unable to create the mark file");
    close(fd);
  }
  if (argc > 1 && !strcmp(argv[1], "-n")) start_tls(&rfd, &wfd);
  else if (!getenv("SSL_PROTOCOL")) die(1, "SSL_PROTOCOL not set");
  rd_full(rfd, (char *)h, 5);
  len = (unsigned long)h[1] << 24 | (unsigned long)h[2] << 16 | (unsigned long)h[3] << 8 | h[4];
  switch (h[0]) {
    case 'E':
      while (len) {
        ssize_t r = rd(rfd, buf, len < sizeof buf ? len : sizeof buf);
        if (r <= 0) _exit(3);
        wr(wfd, buf, (size_t)r);
        len -= (unsigned long)r;
      }
      return 0;
    case 'F': {
      unsigned long i;
      for (i = 0; i < sizeof buf; i++) buf[i] = (char)(i * 7 + 1);
      while (len) {
        size_t n = len < sizeof buf ? len : sizeof buf;
        wr(wfd, buf, n);
        len -= n;
      }
      return 0;
    }
    case 'Z':
      while (rd(rfd, buf, sizeof buf) > 0) ;
      return 0;
    default:
      die(2, "unknown request");
  }
  return 0;
}
