/* tlsclient: TLS for a program under tcpclient. Network on 6/7; prog gets
   plaintext on 6/7 after the handshake (or UCSPI-TLS with -n, where prog
   may also connect by itself and pass the socket: the late socket). */
#include <skalibs/sgetopt.h>
#include <skalibs/strerr.h>
#include "exitcodes.h"
#include "engine.h"
#include "options.h"

char const *PROG = "tlsclient";
#define USAGE "tlsclient [ -n ] [ -v level ] [ -h servername | -i ] [ -c certfile ] [ -k keyfile ] [ -a cafile ] [ -A cadir ] [ -r crlfile ] [ -C ciphers ] [ -p protocols ] [ -K handshake_ms ] [ -T idle_ms ] [ -S | -s ] [ -u uid -g gid ] prog... (ucspi-tls " UCSPITLS_VERSION ")"

int main(int argc, char const *const *argv)
{
  struct tlsconf conf;
  struct reason refusal = { 0, "" }, r;
  subgetopt l = SUBGETOPT_ZERO;
  int bad_usage = 0;
  tlsconf_init(&conf, 0);
  /* Every refusal is collected first, then judged: under qmail-rspawn (the
     late socket), a wrapper's mistake must reach qmail-remote as a reason
     to defer, not end the delivery with a usage error, which bounces. */
  for (;;) {
    int opt = subgetopt_r(argc, argv, OPTIONS_COMMON "h:i", &l);
    if (opt == -1) break;
    switch (options_common(&conf, opt, l.arg, &r)) {
      case 1: continue;
      case -1: if (!refusal.code) refusal = r; continue;
    }
    switch (opt) {
      case 'h': conf.servername = l.arg; break;
      case 'i': conf.insecure = 1; break;
      default:
        if (!refusal.code) reason_set(&refusal, EXIT_USAGE, "usage: ", USAGE, 0, 0);
        bad_usage = 1;
    }
  }
  argc -= l.ind; argv += l.ind;
  tlsconf_from_env(&conf);
  if (!refusal.code && options_check(&conf, &r) < 0) refusal = r;
  if (engine_late_socket(&conf)) {
    if (!argc) strerr_dief1x(EXIT_TEMP, "no program to run: usage: " USAGE);
    engine_main(&conf, argv, 0, refusal.code ? &refusal : 0);
  }
  if (bad_usage || !argc) strerr_dieusage(EXIT_USAGE, USAGE);
  if (refusal.code) strerr_dief1x(refusal.code, refusal.text);
  /* Verification is on by default, and verification needs a name. The late
     socket brings its own. */
  if (!conf.servername && !conf.insecure)
    strerr_dief1x(EXIT_USAGE, "no server name to verify: use -h name (or TLS_SERVERNAME), or -i to skip verification");
  engine_main(&conf, argv, 0, 0);
}
