/* pemcheck: drive src/lib/pemfile on real files, for tests/71-pemfile.t.
 *   pemcheck CERTFILE [KEYFILE]   pemfile_keypair: on success one line
 *       "ok certs=N keyblocks=1 keyincert=0 validity=valid|expired|notyet notafter=..."
 *       exit 0; on failure "error CODE: message", exit 1.
 *   pemcheck -r FILE              pemfile_read alone: "ok bytes=N" or the error.
 *   pemcheck -t CERTFILE [KEYFILE] pemfile_tls_keypair into a libtls server
 *       configuration, then tls_configure: "ok configured" or the error. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <tls.h>
#include "pemfile.h"

static int count(char const *s, size_t len, int kind)
{
  size_t pos = 0;
  struct pemblock b;
  int n = 0;
  while (pemfile_next_block(s, len, &pos, &b) > 0) if (kind < 0 || b.kind == kind) n++;
  return n;
}

int main(int argc, char **argv)
{
  struct pemfile_error err;
  if (argc >= 3 && !strcmp(argv[1], "-r")) {
    stralloc sa = STRALLOC_ZERO;
    if (pemfile_read("file", argv[2], PEMFILE_MAX, &sa, &err) < 0) { printf("error %d: %s\n", err.code, err.msg); return 1; }
    printf("ok bytes=%zu\n", sa.len);
    pemfile_wipe(&sa);
    return 0;
  }
  if (argc >= 3 && !strcmp(argv[1], "-t")) {
    struct tls_config *cfg;
    struct tls *ctx;
    struct pemfile_validity v;
    if (tls_init() < 0 || !(cfg = tls_config_new()) || !(ctx = tls_server())) return 111;
    if (pemfile_tls_keypair(cfg, 0, argv[2], argc > 3 ? argv[3] : 0, &v, &err) < 0) { printf("error %d: %s\n", err.code, err.msg); return 1; }
    if (tls_configure(ctx, cfg) < 0) { printf("error tls_configure: %s\n", tls_error(ctx)); return 1; }
    tls_config_clear_keys(cfg);
    printf("ok configured validity=%d\n", v.state);
    tls_free(ctx);
    tls_config_free(cfg);
    return 0;
  }
  if (argc >= 2 && argv[1][0] != '-') {
    struct pemfile_keypair kp = PEMFILE_KEYPAIR_ZERO;
    struct pemfile_validity v;
    char const *state;
    int keyincert;
    if (pemfile_keypair(argv[1], argc > 2 ? argv[2] : 0, &kp, &err) < 0) { printf("error %d: %s\n", err.code, err.msg); return 1; }
    keyincert = count(kp.cert.s, kp.cert.len, PEMBLOCK_KEY) + count(kp.cert.s, kp.cert.len, PEMBLOCK_KEY_ENCRYPTED)
                + (memmem(kp.cert.s, kp.cert.len, "PRIVATE KEY", 11) != 0);
    if (pemfile_validity(kp.cert.s, kp.cert.len, time(0), &v) < 0) { printf("error validity\n"); return 1; }
    state = v.state == PEMFILE_EXPIRED ? "expired" : v.state == PEMFILE_NOT_YET_VALID ? "notyet" : "valid";
    printf("ok certs=%d keyblocks=%d keyincert=%d validity=%s notafter=%s\n", count(kp.cert.s, kp.cert.len, PEMBLOCK_CERT),
           count(kp.key.s, kp.key.len, -1), keyincert, state, v.notafter);
    pemfile_keypair_free(&kp);
    return 0;
  }
  fprintf(stderr, "usage: pemcheck [ -r | -t ] CERTFILE [KEYFILE]\n");
  return 100;
}
