/* tlsbench: the benchmark's one program.
 *
 * Client modes (measure a TLS server on 127.0.0.1):
 *   tlsbench hs     -p port [-n conc] [-t secs]        full handshakes/s (connect, handshake, close)
 *   tlsbench lat    -p port [-t secs]                  handshake + 16-byte echo, sequential: rate, p50, p99
 *   tlsbench resume -p port [-t secs] [-P pid]         the same with a session file (TLS 1.2): rate, share
 *                                                      resumed, server CPU per connection
 *   (lat -2: TLS 1.2 only, the full handshakes to compare resume with)
 *   tlsbench bulk   -p port -d up|down -b bytes [-P pid]   one connection, MiB/s, server CPU s/GiB
 *   tlsbench mem    -p port [-n sessions] [-P pid]     idle sessions: RSS / private kB per session
 *   tlsbench spawn  [-t secs] [-x] -- cmd args...      run cmd sequentially: runs/s, p50, p99, CPU ms
 *                                                      per run (cmd and its children)
 *                                                      (-x: count any exit code as a run)
 * Server mode (the in-process limit):
 *   tlsbench server -p port -c cert -k key -m echo|sink|source [-F]
 *     one process, a thread per connection (-F: fork per connection, no exec);
 *     session tickets from $TLS_TICKETKEYFILE when set (src/lib/tickets.h)
 * Applications behind other servers (plaintext on 0/1, or 6/7 with -6):
 *   tlsbench sink | source        bulk protocol, server side
 *   tlsbench pbulk -d up|down -b bytes -6   bulk protocol, client side (under tlsclient)
 *   tlsbench echo1 -6             write 16 bytes, read them back, exit 0
 *
 * Bulk protocol: the client sends "N\n". sink: reads N more bytes, answers
 * "ok\n", then reads to EOF. source: writes N bytes and closes.
 *
 * Output: "key value" lines on stdout. Everything is bounded by time or count;
 * every socket has 10-120 s timeouts. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <tls.h>
#include "tickets.h"

#define CHUNK 16384
#define MAXSAMPLES 200000

static const char *addr = "127.0.0.1";
static int port;
static int conc = 1;
static double secs = 2.0;
static long maxcount = 1000000;
static int updir = 1;
static unsigned long long nbytes = 64ULL << 20;
static pid_t srvpid;
static int nsess = 200;
static const char *certfile, *keyfile;
static const char *appmode = "echo";
static int forkmode;
static int tls12only;     /* lat -2 */
static int fd67;
static int anyexit;

static void die(const char *fmt, ...)
{
  va_list ap;
  fputs("tlsbench: fatal: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(111);
}

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void nap(double s)
{
  struct timespec ts;
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) ;
}

/* ---------- a blocking byte stream: two fds, or a libtls context ---------- */

struct stream {
  struct tls *tls;
  int rfd, wfd;
};

static int waitfd(int fd, short ev, int ms)
{
  struct pollfd p;
  int r;
  p.fd = fd;
  p.events = ev;
  p.revents = 0;
  do r = poll(&p, 1, ms); while (r < 0 && errno == EINTR);
  return r > 0 ? 0 : -1;
}

static ssize_t s_read(struct stream *s, void *buf, size_t n)
{
  ssize_t r;
  if (!s->tls) {
    do r = read(s->rfd, buf, n); while (r < 0 && errno == EINTR);
    return r;
  }
  for (;;) {
    r = tls_read(s->tls, buf, n);
    if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT) {
      if (waitfd(s->rfd, r == TLS_WANT_POLLIN ? POLLIN : POLLOUT, 60000) < 0) return -1;
      continue;
    }
    return r < 0 ? -1 : r;
  }
}

static int s_write_all(struct stream *s, const void *buf, size_t n)
{
  const char *p = buf;
  while (n) {
    ssize_t w;
    if (!s->tls) {
      do w = write(s->wfd, p, n); while (w < 0 && errno == EINTR);
    } else {
      w = tls_write(s->tls, p, n);
      if (w == TLS_WANT_POLLIN || w == TLS_WANT_POLLOUT) {
        if (waitfd(s->wfd, w == TLS_WANT_POLLIN ? POLLIN : POLLOUT, 60000) < 0) return -1;
        continue;
      }
    }
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int s_read_exact(struct stream *s, void *buf, size_t n)
{
  char *p = buf;
  while (n) {
    ssize_t r = s_read(s, p, n);
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

/* Reads "N\n"; bytes after the newline are returned in *extra (counted, not kept). */
static int read_header(struct stream *s, unsigned long long *n, size_t *extra)
{
  char buf[CHUNK];
  char line[32];
  size_t len = 0;
  *extra = 0;
  for (;;) {
    ssize_t r = s_read(s, buf, sizeof buf);
    char *nl;
    size_t take;
    if (r <= 0) return -1;
    nl = memchr(buf, '\n', (size_t)r);
    take = nl ? (size_t)(nl - buf) : (size_t)r;
    if (len + take >= sizeof line) return -1;
    memcpy(line + len, buf, take);
    len += take;
    if (nl) {
      line[len] = 0;
      *n = strtoull(line, 0, 10);
      *extra = (size_t)r - take - 1;
      return 0;
    }
  }
}

static void app_echo(struct stream *s)
{
  char buf[CHUNK];
  for (;;) {
    ssize_t r = s_read(s, buf, sizeof buf);
    if (r <= 0) return;
    if (s_write_all(s, buf, (size_t)r) < 0) return;
  }
}

static void app_sink(struct stream *s)
{
  char buf[CHUNK];
  unsigned long long n, got;
  size_t extra;
  if (read_header(s, &n, &extra) < 0) return;
  got = extra;
  while (got < n) {
    ssize_t r = s_read(s, buf, sizeof buf);
    if (r <= 0) return;
    got += (unsigned long long)r;
  }
  if (s_write_all(s, "ok\n", 3) < 0) return;
  for (;;) if (s_read(s, buf, sizeof buf) <= 0) return;
}

static void app_source(struct stream *s)
{
  static const char zero[CHUNK];
  unsigned long long n;
  size_t extra;
  if (read_header(s, &n, &extra) < 0) return;
  while (n) {
    size_t k = n < sizeof zero ? (size_t)n : sizeof zero;
    if (s_write_all(s, zero, k) < 0) return;
    n -= k;
  }
}

static void run_app(struct stream *s, const char *mode)
{
  if (!strcmp(mode, "echo")) app_echo(s);
  else if (!strcmp(mode, "sink")) app_sink(s);
  else if (!strcmp(mode, "source")) app_source(s);
  else die("unknown application %s", mode);
}

/* ---------- /proc: the process tree under a server ---------- */

struct pinfo {
  int pid, ppid;
  unsigned long long start, ticks; /* utime+stime+cutime+cstime */
};

struct snap {
  struct pinfo *p;
  int n;
  int member; /* number in the tree */
  unsigned long long rss_kb, priv_kb;
};

static int read_stat(int pid, struct pinfo *pi, int withchildren)
{
  char path[64], buf[1024], *q;
  int fd;
  ssize_t r;
  unsigned long long ut, st, cut, cst, start;
  int ppid;
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  r = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (r <= 0) return -1;
  buf[r] = 0;
  q = strrchr(buf, ')');
  if (!q) return -1;
  /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime prio nice nthr itreal start */
  if (sscanf(q + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu %*d %*d %*d %*d %llu",
             &ppid, &ut, &st, &cut, &cst, &start) != 6) return -1;
  pi->pid = pid;
  pi->ppid = ppid;
  pi->start = start;
  pi->ticks = ut + st + (withchildren ? cut + cst : 0);
  return 0;
}

static void read_mem(int pid, unsigned long long *rss, unsigned long long *priv)
{
  char path[64], line[256];
  FILE *f;
  unsigned long long v;
  snprintf(path, sizeof path, "/proc/%d/smaps_rollup", pid);
  f = fopen(path, "re");
  if (!f) return;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "Rss: %llu", &v) == 1) *rss += v;
    else if (sscanf(line, "Private_Clean: %llu", &v) == 1) *priv += v;
    else if (sscanf(line, "Private_Dirty: %llu", &v) == 1) *priv += v;
  }
  fclose(f);
}

/* The root and all its descendants; memory only when asked. */
static void take_snap(pid_t root, struct snap *sn, int withmem)
{
  DIR *d = opendir("/proc");
  struct dirent *e;
  struct pinfo *all = 0;
  int nall = 0, cap = 0, i, changed, pass;
  char *in;
  memset(sn, 0, sizeof *sn);
  if (!d) die("opendir /proc: %s", strerror(errno));
  while ((e = readdir(d))) {
    struct pinfo pi;
    int pid = atoi(e->d_name);
    if (pid <= 0) continue;
    /* Every member with its reaped children: a per-connection process
       may be reaped by a long-lived member other than the root (tlsd's
       sessions are its children, and tlsd a child of the root). Live
       descendants are members of their own; only the dead are in cutime. */
    if (read_stat(pid, &pi, 1) < 0) continue;
    if (nall == cap) {
      cap = cap ? 2 * cap : 1024;
      all = realloc(all, (size_t)cap * sizeof *all);
      if (!all) die("out of memory");
    }
    all[nall++] = pi;
  }
  closedir(d);
  in = calloc((size_t)nall + 1, 1);
  if (!in) die("out of memory");
  for (i = 0; i < nall; i++) if (all[i].pid == root) in[i] = 1;
  for (pass = 0, changed = 1; changed && pass < 64; pass++) {
    changed = 0;
    for (i = 0; i < nall; i++) {
      int j;
      if (in[i]) continue;
      for (j = 0; j < nall; j++)
        if (in[j] && all[j].pid == all[i].ppid) { in[i] = 1; changed = 1; break; }
    }
  }
  sn->p = malloc(((size_t)nall + 1) * sizeof *sn->p);
  if (!sn->p) die("out of memory");
  for (i = 0; i < nall; i++) {
    if (!in[i]) continue;
    sn->p[sn->n++] = all[i];
    if (withmem) read_mem(all[i].pid, &sn->rss_kb, &sn->priv_kb);
  }
  sn->member = sn->n;
  free(in);
  free(all);
}

/* CPU seconds the tree used between two snapshots. */
static double snap_cpu(const struct snap *a, const struct snap *b)
{
  unsigned long long t = 0;
  int i, j;
  for (i = 0; i < b->n; i++) {
    unsigned long long before = 0;
    for (j = 0; j < a->n; j++)
      if (a->p[j].pid == b->p[i].pid && a->p[j].start == b->p[i].start) { before = a->p[j].ticks; break; }
    if (b->p[i].ticks > before) t += b->p[i].ticks - before;
  }
  return (double)t / (double)sysconf(_SC_CLK_TCK);
}

static void snap_free(struct snap *s) { free(s->p); s->p = 0; }

/* ---------- client side ---------- */

static int tcp_connect(void)
{
  struct sockaddr_in sa;
  struct timeval tv = { 10, 0 };
  int one = 1;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) die("bad address %s", addr);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { close(fd); return -1; }
  return fd;
}

static struct tls_config *client_config(int sessionfd)
{
  struct tls_config *c = tls_config_new();
  if (!c) die("tls_config_new failed");
  tls_config_insecure_noverifycert(c);
  tls_config_insecure_noverifyname(c);
  if (sessionfd >= 0) {
    /* libtls saves the session when its handshake ends: with TLS 1.3 the
       ticket comes later and is never saved, so resumption is tried in 1.2 */
    if (tls_config_set_session_fd(c, sessionfd) < 0) die("session fd: %s", tls_config_error(c));
    tls_config_set_protocols(c, TLS_PROTOCOL_TLSv1_2);
  }
  if (tls12only) tls_config_set_protocols(c, TLS_PROTOCOL_TLSv1_2);
  return c;
}

static char last_proto[32] = "-", last_cipher[64] = "-";
static pthread_mutex_t statlock = PTHREAD_MUTEX_INITIALIZER;

/* Connect and handshake. Returns the context, or 0. */
static struct tls *client_open(struct tls_config *cfg, int *fdp)
{
  struct tls *t;
  int fd = tcp_connect(), i;
  *fdp = fd;
  if (fd < 0) return 0;
  t = tls_client();
  if (!t) { close(fd); return 0; }
  if (tls_configure(t, cfg) < 0 || tls_connect_socket(t, fd, "localhost") < 0) goto fail;
  for (i = 0; i < 1000; i++) {
    int r = tls_handshake(t);
    if (r == 0) break;
    if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT) {
      if (waitfd(fd, r == TLS_WANT_POLLIN ? POLLIN : POLLOUT, 10000) < 0) goto fail;
      continue;
    }
    goto fail;
  }
  if (i == 1000) goto fail;
  return t;
fail:
  tls_free(t);
  close(fd);
  return 0;
}

static void client_close(struct tls *t, int fd)
{
  int i;
  for (i = 0; i < 4; i++) {
    int r = tls_close(t);
    if (r != TLS_WANT_POLLIN && r != TLS_WANT_POLLOUT) break;
  }
  tls_free(t);
  close(fd);
}

static void note_conn(struct tls *t)
{
  const char *p = tls_conn_version(t), *c = tls_conn_cipher(t);
  pthread_mutex_lock(&statlock);
  if (p) snprintf(last_proto, sizeof last_proto, "%s", p);
  if (c) snprintf(last_cipher, sizeof last_cipher, "%s", c);
  pthread_mutex_unlock(&statlock);
}

static int echo_once(struct tls *t, int fd)
{
  struct stream s;
  char out[16] = "0123456789abcdef", in[16];
  s.tls = t;
  s.rfd = s.wfd = fd;
  if (s_write_all(&s, out, sizeof out) < 0) return -1;
  if (s_read_exact(&s, in, sizeof in) < 0) return -1;
  return memcmp(in, out, sizeof in) ? -1 : 0;
}

struct hsarg { double deadline; long ok, err; };

static void *hs_thread(void *x)
{
  struct hsarg *a = x;
  struct tls_config *cfg = client_config(-1);
  long tries;
  for (tries = 0; tries < maxcount && now() < a->deadline; tries++) {
    int fd;
    struct tls *t = client_open(cfg, &fd);
    if (!t) { a->err++; nap(0.001); continue; }
    if (a->ok == 0) note_conn(t);
    a->ok++;
    client_close(t, fd);
  }
  tls_config_free(cfg);
  return 0;
}

static void do_hs(void)
{
  pthread_t th[256];
  struct hsarg a[256];
  double t0, t1;
  long ok = 0, err = 0;
  int i;
  if (conc < 1 || conc > 256) die("concurrency 1..256");
  t0 = now();
  for (i = 0; i < conc; i++) {
    a[i].deadline = t0 + secs;
    a[i].ok = a[i].err = 0;
    if (pthread_create(&th[i], 0, hs_thread, &a[i])) die("pthread_create");
  }
  for (i = 0; i < conc; i++) {
    pthread_join(th[i], 0);
    ok += a[i].ok;
    err += a[i].err;
  }
  t1 = now();
  printf("rate %.1f\nok %ld\nerrors %ld\nproto %s\ncipher %s\n", ok / (t1 - t0), ok, err, last_proto, last_cipher);
}

static int cmpd(const void *x, const void *y)
{
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

static double pct(double *v, long n, double p)
{
  long i;
  if (n <= 0) return 0;
  i = (long)(p * (double)(n - 1) + 0.5);
  return v[i];
}

static void do_lat(int resume)
{
  static double lat[MAXSAMPLES];
  char tmpl[] = "/tmp/tlsbench-session-XXXXXX";
  int sfd = -1;
  struct tls_config *cfg;
  long n = 0, err = 0, resumed = 0, tries;
  double t0, t1, deadline, srvcpu = 0;
  struct snap sa, sb;
  if (resume) {
    sfd = mkstemp(tmpl);
    if (sfd < 0) die("mkstemp: %s", strerror(errno));
    unlink(tmpl);
    fchmod(sfd, 0600);
  }
  cfg = client_config(sfd);
  if (srvpid) take_snap(srvpid, &sa, 0);
  if (resume) { /* one full handshake to obtain a session */
    int fd;
    struct tls *t = client_open(cfg, &fd);
    if (t) { echo_once(t, fd); client_close(t, fd); }
  }
  t0 = now();
  deadline = t0 + secs;
  for (tries = 0; tries < maxcount && n < MAXSAMPLES && now() < deadline; tries++) {
    int fd;
    double a = now();
    struct tls *t = client_open(cfg, &fd);
    if (!t) { err++; nap(0.001); continue; }
    if (echo_once(t, fd) < 0) { err++; client_close(t, fd); continue; }
    lat[n++] = now() - a;
    if (n == 1) note_conn(t);
    if (tls_conn_session_resumed(t)) resumed++;
    client_close(t, fd);
  }
  t1 = now();
  if (srvpid) { /* server CPU per connection, once the per-connection processes are gone */
    int k;
    for (k = 0; k < 100; k++) {
      take_snap(srvpid, &sb, 0);
      if (sb.member <= sa.member) break;
      snap_free(&sb);
      nap(0.02);
    }
    if (k == 100) take_snap(srvpid, &sb, 0);
    srvcpu = snap_cpu(&sa, &sb);
    snap_free(&sa);
    snap_free(&sb);
  }
  qsort(lat, (size_t)n, sizeof lat[0], cmpd);
  printf("rate %.1f\nok %ld\nerrors %ld\np50_ms %.3f\np99_ms %.3f\nresumed %.3f\nproto %s\ncipher %s\n",
         n / (t1 - t0), n, err, pct(lat, n, 0.50) * 1e3, pct(lat, n, 0.99) * 1e3,
         n ? (double)resumed / (double)n : 0.0, last_proto, last_cipher);
  if (srvpid && n) printf("cpu_ms_per_conn %.3f\n", srvcpu * 1e3 / (double)(n + resume));
  tls_config_free(cfg);
  if (sfd >= 0) close(sfd);
}

/* Bulk over an established stream. Returns seconds. */
static double bulk_run(struct stream *s)
{
  static const char zero[CHUNK];
  static char buf[CHUNK];
  char hdr[32];
  double t0;
  unsigned long long left = nbytes;
  int l = snprintf(hdr, sizeof hdr, "%llu\n", nbytes);
  t0 = now();
  if (s_write_all(s, hdr, (size_t)l) < 0) die("bulk: write failed");
  if (updir) {
    char ok[3];
    while (left) {
      size_t k = left < sizeof zero ? (size_t)left : sizeof zero;
      if (s_write_all(s, zero, k) < 0) die("bulk: write failed");
      left -= k;
    }
    if (s_read_exact(s, ok, 3) < 0 || memcmp(ok, "ok\n", 3)) die("bulk: no acknowledgement");
  } else {
    while (left) {
      ssize_t r = s_read(s, buf, sizeof buf);
      if (r <= 0) die("bulk: short read, %llu bytes missing", left);
      left -= (unsigned long long)r < left ? (unsigned long long)r : left;
    }
  }
  return now() - t0;
}

static double self_cpu(void)
{
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void do_bulk(void)
{
  struct tls_config *cfg = client_config(-1);
  struct snap a, b;
  struct stream s;
  double dt, c0, c1, srv = -1, gib = (double)nbytes / (1024.0 * 1024 * 1024);
  int fd;
  struct tls *t = client_open(cfg, &fd);
  if (!t) die("bulk: connection or handshake failed");
  note_conn(t);
  s.tls = t;
  s.rfd = s.wfd = fd;
  if (srvpid) take_snap(srvpid, &a, 0);
  c0 = self_cpu();
  dt = bulk_run(&s);
  c1 = self_cpu();
  if (srvpid) {
    take_snap(srvpid, &b, 0);
    srv = snap_cpu(&a, &b);
    snap_free(&a);
    snap_free(&b);
  }
  printf("mibps %.1f\nseconds %.3f\ncpu_s_per_gib %.3f\nclient_cpu_s_per_gib %.3f\nproto %s\ncipher %s\n",
         (double)nbytes / dt / 1048576.0, dt, srv >= 0 ? srv / gib : -1.0, (c1 - c0) / gib, last_proto, last_cipher);
  client_close(t, fd);
  tls_config_free(cfg);
}

/* Under tlsclient: plaintext on 6/7, the engine is our parent. */
static void do_pbulk(void)
{
  struct stream s;
  struct pinfo a, b;
  pid_t engine = getppid();
  double dt, gib = (double)nbytes / (1024.0 * 1024 * 1024);
  int have;
  s.tls = 0;
  s.rfd = 6;
  s.wfd = 7;
  have = read_stat(engine, &a, 0) == 0;
  dt = bulk_run(&s);
  if (have && read_stat(engine, &b, 0) < 0) have = 0;
  printf("mibps %.1f\nseconds %.3f\ncpu_s_per_gib %.3f\n", (double)nbytes / dt / 1048576.0, dt,
         have ? (double)(b.ticks - a.ticks) / (double)sysconf(_SC_CLK_TCK) / gib : -1.0);
  fflush(stdout);
  close(7);
  close(6);
}

static void do_echo1(void)
{
  struct stream s;
  char out[16] = "0123456789abcdef", in[16];
  s.tls = 0;
  s.rfd = fd67 ? 6 : 0;
  s.wfd = fd67 ? 7 : 1;
  if (s_write_all(&s, out, sizeof out) < 0 || s_read_exact(&s, in, sizeof in) < 0 || memcmp(in, out, sizeof in))
    exit(1);
  exit(0);
}

struct memarg { struct tls **t; int *fds; int from, to; };

static void *mem_thread(void *x)
{
  struct memarg *m = x;
  struct tls_config *cfg = client_config(-1);
  int i;
  for (i = m->from; i < m->to; i++) {
    m->t[i] = client_open(cfg, &m->fds[i]);
    if (!m->t[i]) continue;
    if (echo_once(m->t[i], m->fds[i]) < 0) { client_close(m->t[i], m->fds[i]); m->t[i] = 0; }
  }
  return cfg; /* freed by the caller once every session is closed */
}

/* Opens the sessions from 8 threads, keeps them idle, measures, closes. */
static void do_mem(void)
{
  struct snap a, b;
  struct tls **t;
  struct memarg m[8];
  pthread_t th[8];
  void *cfgs[8];
  int *fds, i, open_ok = 0;
  if (nsess < 1 || nsess > 2000) die("sessions 1..2000");
  t = calloc((size_t)nsess, sizeof *t);
  fds = calloc((size_t)nsess, sizeof *fds);
  if (!t || !fds) die("out of memory");
  take_snap(srvpid, &a, 1);
  for (i = 0; i < 8; i++) {
    m[i].t = t;
    m[i].fds = fds;
    m[i].from = nsess * i / 8;
    m[i].to = nsess * (i + 1) / 8;
    if (pthread_create(&th[i], 0, mem_thread, &m[i])) die("pthread_create");
  }
  for (i = 0; i < 8; i++) pthread_join(th[i], &cfgs[i]);
  for (i = 0; i < nsess; i++) if (t[i]) open_ok++;
  nap(0.3);
  take_snap(srvpid, &b, 1);
  if (!open_ok) die("mem: no session opened");
  printf("sessions %d\nrss_kb_per_session %.1f\npriv_kb_per_session %.1f\nprocs_per_session %.2f\n", open_ok,
         ((double)b.rss_kb - (double)a.rss_kb) / open_ok, ((double)b.priv_kb - (double)a.priv_kb) / open_ok,
         (double)(b.member - a.member) / open_ok);
  for (i = 0; i < nsess; i++) if (t[i]) client_close(t[i], fds[i]);
  for (i = 0; i < 8; i++) tls_config_free(cfgs[i]);
  snap_free(&a);
  snap_free(&b);
  free(t);
  free(fds);
}

static void do_spawn(char **argv)
{
  static double lat[MAXSAMPLES];
  long n = 0, err = 0, tries;
  double t0 = now(), deadline = t0 + secs, t1;
  int devnull = open("/dev/null", O_RDWR);
  struct rusage ru0, ru1;
  double cpu;
  getrusage(RUSAGE_CHILDREN, &ru0);
  for (tries = 0; tries < maxcount && n < MAXSAMPLES && now() < deadline; tries++) {
    double a = now();
    int st;
    pid_t pid = fork();
    if (pid < 0) die("fork: %s", strerror(errno));
    if (!pid) {
      if (devnull >= 0) dup2(devnull, 0);
      execvp(argv[0], argv);
      _exit(127);
    }
    if (waitpid(pid, &st, 0) < 0) die("waitpid: %s", strerror(errno));
    if (WIFEXITED(st) && (WEXITSTATUS(st) == 0 || anyexit)) lat[n++] = now() - a;
    else err++;
  }
  t1 = now();
  getrusage(RUSAGE_CHILDREN, &ru1);
  cpu = (double)(ru1.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_utime.tv_sec - ru0.ru_stime.tv_sec)
      + (double)(ru1.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_utime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
  qsort(lat, (size_t)n, sizeof lat[0], cmpd);
  printf("rate %.1f\nok %ld\nerrors %ld\np50_ms %.3f\np99_ms %.3f\n", n / (t1 - t0), n, err,
         pct(lat, n, 0.50) * 1e3, pct(lat, n, 0.99) * 1e3);
  if (n + err) printf("cpu_ms_per_conn %.3f\n", cpu * 1e3 / (double)(n + err));
}

/* ---------- the in-process server ---------- */

static pthread_mutex_t tlslock = PTHREAD_MUTEX_INITIALIZER;

struct conn { struct tls *t; int fd; };

static void serve(struct tls *t, int fd)
{
  struct stream s;
  int i;
  for (i = 0; i < 1000; i++) {
    int r = tls_handshake(t);
    if (r == 0) break;
    if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT) {
      if (waitfd(fd, r == TLS_WANT_POLLIN ? POLLIN : POLLOUT, 60000) < 0) return;
      continue;
    }
    return;
  }
  if (i == 1000) return;
  s.tls = t;
  s.rfd = s.wfd = fd;
  run_app(&s, appmode);
  for (i = 0; i < 4; i++) {
    int r = tls_close(t);
    if (r != TLS_WANT_POLLIN && r != TLS_WANT_POLLOUT) break;
  }
}

static void *conn_thread(void *x)
{
  struct conn *c = x;
  serve(c->t, c->fd);
  pthread_mutex_lock(&tlslock); /* libtls's config refcount is not atomic */
  tls_free(c->t);
  pthread_mutex_unlock(&tlslock);
  close(c->fd);
  free(c);
  return 0;
}

static void reap(int sig)
{
  int e = errno;
  while (waitpid(-1, 0, WNOHANG) > 0) ;
  errno = e;
}

static void do_server(void)
{
  struct tls_config *cfg;
  struct tls *srv;
  struct sockaddr_in sa;
  pthread_attr_t attr;
  unsigned char sid[16];
  int one = 1, lfd;
  long i;
  if (!certfile) die("server: -c cert required");
  if (!keyfile) keyfile = certfile;
  signal(SIGPIPE, SIG_IGN);
  if (forkmode) { /* reap at once, so that children's CPU time lands in ours */
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_handler = reap;
    act.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &act, 0);
  }
  cfg = tls_config_new();
  if (!cfg) die("tls_config_new failed");
  if (tls_config_set_keypair_file(cfg, certfile, keyfile) < 0) die("keypair: %s", tls_config_error(cfg));
  for (i = 0; i < (long)sizeof sid; i++) sid[i] = (unsigned char)(getpid() >> (i % 4));
  tls_config_set_session_id(cfg, sid, sizeof sid);
  srv = tls_server();
  if (!srv) die("tls_server: no memory");
  {
    /* libtls's own tickets do not work over OpenSSL 3: the same keys and
       callback as tlsserver, or none. */
    char const *kf = getenv("TLS_TICKETKEYFILE"), *why;
    struct tickets *tk = 0;
    if (kf && *kf && !(tk = tickets_load(kf, 600, "", &why))) die("ticket key file %s: %s", kf, why);
    if (tickets_configure(srv, cfg, tk, &why) < 0) die("tls_configure: %s", why);
    tickets_release(tk);
  }
  lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0) die("socket: %s", strerror(errno));
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) die("bad address %s", addr);
  if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0) die("bind %s:%d: %s", addr, port, strerror(errno));
  if (listen(lfd, 256) < 0) die("listen: %s", strerror(errno));
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  for (;;) {
    struct timeval tv = { 120, 0 };
    struct tls *t;
    int fd = accept4(lfd, 0, 0, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) { nap(0.001); continue; }
      die("accept: %s", strerror(errno));
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (forkmode) {
      pid_t pid = fork();
      if (pid == 0) {
        close(lfd);
        if (tls_accept_socket(srv, &t, fd) == 0) serve(t, fd);
        _exit(0);
      }
      close(fd);
      continue;
    }
    pthread_mutex_lock(&tlslock);
    i = tls_accept_socket(srv, &t, fd);
    pthread_mutex_unlock(&tlslock);
    if (i < 0) { close(fd); continue; }
    {
      pthread_t th;
      struct conn *c = malloc(sizeof *c);
      if (!c) { tls_free(t); close(fd); continue; }
      c->t = t;
      c->fd = fd;
      if (pthread_create(&th, &attr, conn_thread, c)) {
        pthread_mutex_lock(&tlslock);
        tls_free(t);
        pthread_mutex_unlock(&tlslock);
        close(fd);
        free(c);
      }
    }
  }
}

static void usage(void)
{
  fputs("usage: tlsbench hs|lat|resume|bulk|mem|spawn|server|sink|source|pbulk|echo1 [options]\n", stderr);
  exit(100);
}

int main(int argc, char **argv)
{
  const char *mode;
  int opt;
  if (argc < 2) usage();
  mode = argv[1];
  argv++;
  argc--;
  while ((opt = getopt(argc, argv, "+a:p:n:t:N:d:b:P:c:k:m:F6x2")) != -1) {
    switch (opt) {
      case 'a': addr = optarg; break;
      case 'p': port = atoi(optarg); break;
      case 'n': conc = nsess = atoi(optarg); break;
      case 't': secs = atof(optarg); break;
      case 'N': maxcount = atol(optarg); break;
      case 'd': updir = !strcmp(optarg, "up"); break;
      case 'b': nbytes = strtoull(optarg, 0, 10); break;
      case 'P': srvpid = (pid_t)atoi(optarg); break;
      case 'c': certfile = optarg; break;
      case 'k': keyfile = optarg; break;
      case 'm': appmode = optarg; break;
      case 'F': forkmode = 1; break;
      case '2': tls12only = 1; break;
      case '6': fd67 = 1; break;
      case 'x': anyexit = 1; break;
      default: usage();
    }
  }
  argv += optind;
  signal(SIGPIPE, SIG_IGN);
  if (!strcmp(mode, "sink") || !strcmp(mode, "source")) {
    struct stream s;
    s.tls = 0;
    s.rfd = fd67 ? 6 : 0;
    s.wfd = fd67 ? 7 : 1;
    run_app(&s, mode);
    return 0;
  }
  if (!strcmp(mode, "echo1")) do_echo1();
  if (!strcmp(mode, "pbulk")) { do_pbulk(); return 0; }
  if (!strcmp(mode, "spawn")) {
    if (!*argv) usage();
    do_spawn(argv);
    return 0;
  }
  if (tls_init() < 0) die("tls_init failed");
  if (!strcmp(mode, "server")) do_server();
  if (!port) die("-p port required");
  if (!strcmp(mode, "hs")) do_hs();
  else if (!strcmp(mode, "lat")) do_lat(0);
  else if (!strcmp(mode, "resume")) do_lat(1);
  else if (!strcmp(mode, "bulk")) do_bulk();
  else if (!strcmp(mode, "mem")) {
    if (!srvpid) die("mem: -P pid required");
    do_mem();
  }
  else usage();
  return 0;
}
