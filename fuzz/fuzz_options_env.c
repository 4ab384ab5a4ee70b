/* fuzz_options_env: libFuzzer harness for the option and environment
 * parsing shared by tlsserver and tlsclient: options_common() and
 * options_check() (src/lib/options.c), tlsconf_from_env() (src/lib/
 * tlsconf.c) and the file-free part of tlsctx_load() (protocol and cipher
 * strings, src/engine/tlsctx.c). None of them exits: each returns an error
 * and a reason, which is what the oracle checks.
 *
 * Input: records "<selector byte><argument bytes>\0" ...
 *  phase 1, records up to the first selector 0xff: options. The selector
 *    picks an option character (the shared ones and a few others); the
 *    oracle: a shared numeric option (-v -K -T -u -g) is refused (-1, code
 *    100) exactly when the argument is not a decimal number up to INT_MAX,
 *    else stored; a string option stores the pointer; a flag sets its
 *    field; any other character returns 0 and changes nothing.
 *  phase 2, the following records: an environment (the selector picks a
 *    variable name, the argument is the value) installed as environ, then
 *    tlsconf_from_env(); the oracle recomputes every field (command line
 *    wins, empty variables count as unset, KEYFILE defaults to the
 *    certificate, CAFILE/CADIR switch optional client certificates on).
 *  phase 3: options_check() refuses (100) exactly when only one of TLS_UID
 *    and TLS_GID is set or one is not numeric (or -Y without a CA); then
 *    tlsctx_load() for a client with no file refuses (96) exactly when the
 *    protocol or the cipher string is refused by libtls.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/types.h>
#include "options.h"
#include "tlsconf.h"
#include "tlsctx.h"
#include "exitcodes.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz_options_env: property failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

char const *PROG = "fuzz_options_env";
extern char **environ;

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size);

/* decimal, whole string, fits an unsigned int */
static int ref_uint(char const *s, unsigned int *u)
{
  unsigned long long v = 0;
  if (!*s) return 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return 0;
    v = v * 10 + (unsigned long long)(*s - '0');
    if (v > INT_MAX) return 0;   /* the documented range of every number */
  }
  *u = (unsigned int)v;
  return 1;
}

static char const optchars[] = "nFvckaArCpKTSsugyYhix?:";

static char const *const varnames[] = {
  "CERTFILE", "KEYFILE", "CAFILE", "CADIR", "CRLFILE", "TLSCIPHERS", "TLSPROTOCOLS",
  "TLS_SERVERNAME", "TLS_UID", "TLS_GID", "TLS_CHROOT", "TLS_OCSPFILE", "TLS_TICKETKEYFILE",
  "CERTFILE:a.example", "KEYFILE:a.example", "SMTPS", "PATH", "CERTFIL", "CERTFILEX", 0
};
#define NVARS (sizeof varnames / sizeof varnames[0] - 1)

#define MAXREC 64
static char envstore[MAXREC][4200];
static char *fakeenv[MAXREC + 1];

static char const *ref_env(char const *name)
{
  size_t n = strlen(name), i;
  for (i = 0; fakeenv[i]; i++)
    if (!strncmp(fakeenv[i], name, n) && fakeenv[i][n] == '=') return fakeenv[i][n + 1] ? fakeenv[i] + n + 1 : 0;
  return 0;
}


int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  static char args[MAXREC][4097];
  struct tlsconf c, before, cmd;
  struct reason why;
  size_t i = 0, nrec = 0, nenv = 0;
  int is_server, r = 0;
  char **saved_env = environ;

  if (!size) return 0;
  is_server = data[i++] & 1;
  tlsconf_init(&c, is_server);

  /* phase 1: options */
  while (i < size && nrec < MAXREC && data[i] != 0xff) {
    int opt = optchars[data[i++] % (sizeof optchars - 1)];
    size_t a = i, n;
    char *arg = args[nrec++];
    unsigned int u = 0;
    int valid;
    while (i < size && data[i] && i - a < 4096) i++;
    n = i - a;
    memcpy(arg, data + a, n);
    arg[n] = 0;
    if (i < size) i++;
    before = c;
    r = options_common(&c, opt, arg, &why);
    if (!strchr("nFvckaArCpKTSsug", opt)) {
      CHECK(r == 0 && !memcmp(&before, &c, sizeof c));
      continue;
    }
    valid = ref_uint(arg, &u);
    switch (opt) {
      case 'v': case 'K': case 'T': case 'u': case 'g':
        if (!valid) { CHECK(r == -1 && why.code == EXIT_USAGE && why.text[0]); c = before; continue; }
        CHECK(r == 1);
        if (opt == 'v') CHECK(c.verbosity == u);
        if (opt == 'K') CHECK(c.handshake_ms == u);
        if (opt == 'T') CHECK(c.idle_ms == u);
        if (opt == 'u') CHECK(c.uid == arg);
        if (opt == 'g') CHECK(c.gid == arg);
        CHECK(u <= INT_MAX);
        break;
      default:
        CHECK(r == 1);
        if (opt == 'n') CHECK(c.delayed == 1);
        if (opt == 'F') CHECK(c.strict == 1);
        if (opt == 'S') CHECK(c.close_notify == 1);
        if (opt == 's') CHECK(c.close_notify == 0);
        if (opt == 'c') CHECK(c.certfile == arg);
        if (opt == 'k') CHECK(c.keyfile == arg);
        if (opt == 'a') CHECK(c.cafile == arg);
        if (opt == 'A') CHECK(c.cadir == arg);
        if (opt == 'r') CHECK(c.crlfile == arg);
        if (opt == 'C') CHECK(c.ciphers == arg);
        if (opt == 'p') CHECK(c.protocols == arg);
        break;
    }
  }
  if (i < size && data[i] == 0xff) i++;

  /* phase 2: the environment */
  while (i < size && nenv < MAXREC) {
    size_t sel = data[i++], a = i, n, nl;
    char *e = envstore[nenv];
    char const *name = varnames[sel % NVARS];
    while (i < size && data[i] && i - a < 4096) i++;
    n = i - a;
    if (i < size) i++;
    nl = strlen(name);
    memcpy(e, name, nl);
    if (sel & 0x80) { memcpy(e + nl, data + a, n); e[nl + n] = 0; }   /* raw, maybe no '=' */
    else { e[nl] = '='; memcpy(e + nl + 1, data + a, n); e[nl + 1 + n] = 0; }
    fakeenv[nenv++] = e;
  }
  fakeenv[nenv] = 0;
  cmd = c;
  environ = fakeenv;
  tlsconf_from_env(&c);
  {
    char const *v;
#define FIELD(f, var, dflt) do { \
      if (cmd.f) CHECK(c.f == cmd.f); \
      else if ((v = ref_env(var))) CHECK(c.f == v); \
      else if (dflt) CHECK(c.f && !strcmp(c.f, (char const *)(dflt))); \
      else CHECK(!c.f); \
    } while (0)
    FIELD(certfile, "CERTFILE", 0);
    FIELD(cafile, "CAFILE", 0);
    FIELD(cadir, "CADIR", 0);
    FIELD(crlfile, "CRLFILE", 0);
    FIELD(ciphers, "TLSCIPHERS", TLSCONF_DEFAULT_CIPHERS);
    FIELD(protocols, "TLSPROTOCOLS", TLSCONF_DEFAULT_PROTOCOLS);
    FIELD(servername, "TLS_SERVERNAME", 0);
    FIELD(uid, "TLS_UID", 0);
    FIELD(gid, "TLS_GID", 0);
    FIELD(chrootdir, "TLS_CHROOT", 0);
    FIELD(ocspfile, "TLS_OCSPFILE", 0);
    FIELD(ticketkeyfile, "TLS_TICKETKEYFILE", 0);
    v = cmd.keyfile ? cmd.keyfile : ref_env("KEYFILE");
    if (!v) v = c.certfile;
    CHECK(c.keyfile == v);
    if (is_server && cmd.clientcert < 0)
      CHECK(c.clientcert == ((c.cafile || c.cadir) ? CLIENTCERT_OPTIONAL : CLIENTCERT_OFF));
    else CHECK(c.clientcert == cmd.clientcert);
    CHECK(c.strict == (cmd.strict || ref_env("TLS_STRICT")));
    CHECK(c.delayed == cmd.delayed && c.verbosity == cmd.verbosity && c.close_notify == cmd.close_notify);
    CHECK(c.handshake_ms == cmd.handshake_ms && c.idle_ms == cmd.idle_ms && c.is_server == is_server);
#undef FIELD
  }

  /* phase 3: cross checks, then protocol and cipher strings through
     libtls, no file */
  {
    struct tlsconf b = c;
    struct tlsctx t;
    struct tls_config *probe;
    uint32_t protos;
    uid_t uid;
    gid_t gid;
    int want_refusal, bad_ids;
    environ = saved_env;
    bad_ids = !c.uid != !c.gid || (c.uid && !uid0_scan(c.uid, &uid)) || (c.gid && !gid0_scan(c.gid, &gid))
           || (c.is_server && c.clientcert == CLIENTCERT_REQUIRED && !c.cafile && !c.cadir);
    r = options_check(&c, &why);
    if (bad_ids) CHECK(r == -1 && why.code == EXIT_USAGE && why.text[0]);
    else CHECK(r == 0);
    b.is_server = 0;
    b.certfile = b.keyfile = b.cafile = b.cadir = b.crlfile = 0;
    b.ocspfile = b.ticketkeyfile = 0;
    probe = tls_config_new();
    CHECK(probe);
    want_refusal = tls_config_parse_protocols(&protos, b.protocols) < 0
            || tls_config_set_protocols(probe, protos) < 0
            || tls_config_set_ciphers(probe, b.ciphers) < 0;
    tls_config_free(probe);
    r = tlsctx_load(&t, &b, &why);
    if (want_refusal) CHECK(r == -1 && why.code == EXIT_CONFIG && why.text[0] && !t.cfg);
    else { CHECK(r == 0 && t.cfg && !t.ctx && !t.report); tlsctx_free(&t); }
  }
  environ = saved_env;
  return 0;
}
