/* startup: what one chained engine spends before its first handshake byte.
 *   build/bench/startup [-n runs] cert key
 * Runs itself `runs` times (default 40) as fresh processes (fork + exec),
 * each timing its own steps in process CPU time, and prints the medians in
 * ms: CPU before main (exec, dynamic linking), tls_init, loading the keypair,
 * tls_configure of a server context. Compare a dynamic and a static build. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <tls.h>

static double cpu_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmpd(const void *x, const void *y)
{
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

/* One measured start: prints "before init keypair configure". */
static int once(const char *cert, const char *key)
{
  double t0 = cpu_ms(), t1, t2, t3;
  struct tls_config *c;
  struct tls *s;
  if (tls_init() < 0) return 1;
  t1 = cpu_ms();
  c = tls_config_new();
  if (!c || tls_config_set_keypair_file(c, cert, key) < 0) return 2;
  t2 = cpu_ms();
  s = tls_server();
  if (!s || tls_configure(s, c) < 0) return 3;
  t3 = cpu_ms();
  printf("%.4f %.4f %.4f %.4f\n", t0, t1 - t0, t2 - t1, t3 - t2);
  return 0;
}

int main(int argc, char **argv)
{
  double v[4][1000];
  int runs = 40, i, k, n = 0;
  if (argc == 4 && !strcmp(argv[1], "-1")) return once(argv[2], argv[3]);
  if (argc == 5 && !strcmp(argv[1], "-n")) { runs = atoi(argv[2]); argv += 2; argc -= 2; }
  if (argc != 3 || runs < 1 || runs > 1000) {
    fputs("usage: startup [-n runs] cert key\n", stderr);
    return 100;
  }
  for (i = 0; i < runs; i++) {
    int p[2], st;
    char buf[256];
    ssize_t r;
    pid_t pid;
    if (pipe(p) < 0) return 111;
    pid = fork();
    if (pid < 0) return 111;
    if (!pid) {
      char *args[5];
      args[0] = argv[0]; args[1] = (char *)"-1"; args[2] = argv[1]; args[3] = argv[2]; args[4] = 0;
      dup2(p[1], 1);
      close(p[0]);
      execv("/proc/self/exe", args);
      _exit(127);
    }
    close(p[1]);
    r = read(p[0], buf, sizeof buf - 1);
    close(p[0]);
    waitpid(pid, &st, 0);
    if (r <= 0 || !WIFEXITED(st) || WEXITSTATUS(st)) continue;
    buf[r] = 0;
    if (sscanf(buf, "%lf %lf %lf %lf", &v[0][n], &v[1][n], &v[2][n], &v[3][n]) == 4) n++;
  }
  if (!n) { fputs("startup: no run succeeded (certificate and key readable?)\n", stderr); return 111; }
  for (k = 0; k < 4; k++) qsort(v[k], (size_t)n, sizeof v[k][0], cmpd);
  printf("runs %d\nbefore_main_ms %.2f\ntls_init_ms %.2f\nkeypair_ms %.2f\ntls_configure_ms %.2f\ntotal_ms %.2f\n", n,
         v[0][n / 2], v[1][n / 2], v[2][n / 2], v[3][n / 2], v[0][n / 2] + v[1][n / 2] + v[2][n / 2] + v[3][n / 2]);
  return 0;
}
