/* tlsclient: TLS for a program under tcpclient. Network on 6/7; prog gets
   plaintext on 6/7 after the handshake (or UCSPI-TLS with -n, where prog
   may also connect by itself and pass the socket: the late socket). */
#include <skalibs/sgetopt.h>
#include <skalibs/strerr.h>
#include "engine.h"
#include "options.h"

char const *PROG = "tlsclient";
#define USAGE "tlsclient [ -n ] [ -v level ] [ -h servername | -i ] [ -c certfile ] [ -k keyfile ] [ -a cafile ] [ -A cadir ] [ -r crlfile ] [ -C ciphers ] [ -p protocols ] [ -K handshake_ms ] [ -T idle_ms ] [ -S | -s ] [ -u uid ] [ -g gid ] prog..."

int main(int argc, char const *const *argv)
{
  struct tlsconf conf;
  subgetopt l = SUBGETOPT_ZERO;
  tlsconf_init(&conf, 0);
  for (;;) {
    int opt = subgetopt_r(argc, argv, OPTIONS_COMMON "h:i", &l);
    if (opt == -1) break;
    if (options_common(&conf, opt, l.arg)) continue;
    switch (opt) {
      case 'h': conf.servername = l.arg; break;
      case 'i': conf.insecure = 1; break;
      default: strerr_dieusage(EXIT_USAGE, USAGE);
    }
  }
  argc -= l.ind; argv += l.ind;
  if (!argc) strerr_dieusage(EXIT_USAGE, USAGE);
  tlsconf_from_env(&conf);
  /* Verification is on by default, and verification needs a name. The late
     socket brings its own name, so -n may go without. */
  if (!conf.servername && !conf.insecure && !conf.delayed)
    strerr_dief1x(EXIT_USAGE, "no server name to verify: use -h name (or TLS_SERVERNAME), or -i to skip verification");
  engine_main(&conf, argv, 0);
}
