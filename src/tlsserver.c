/* tlsserver: TLS for a program under tcpserver. Network on 0/1; prog gets
   plaintext on 0/1 after the handshake (or UCSPI-TLS with -n). */
#include <skalibs/sgetopt.h>
#include <skalibs/strerr.h>
#include "engine.h"
#include "options.h"

char const *PROG = "tlsserver";
#define USAGE "tlsserver [ -n ] [ -v level ] [ -c certfile ] [ -k keyfile ] [ -a cafile ] [ -A cadir ] [ -r crlfile ] [ -y | -Y ] [ -C ciphers ] [ -p protocols ] [ -K handshake_ms ] [ -T idle_ms ] [ -S | -s ] [ -u uid ] [ -g gid ] prog..."

int main(int argc, char const *const *argv)
{
  struct tlsconf conf;
  subgetopt l = SUBGETOPT_ZERO;
  tlsconf_init(&conf, 1);
  for (;;) {
    int opt = subgetopt_r(argc, argv, OPTIONS_COMMON "yY", &l);
    if (opt == -1) break;
    if (options_common(&conf, opt, l.arg)) continue;
    switch (opt) {
      case 'y': conf.clientcert = CLIENTCERT_OPTIONAL; break;
      case 'Y': conf.clientcert = CLIENTCERT_REQUIRED; break;
      default: strerr_dieusage(EXIT_USAGE, USAGE);
    }
  }
  argc -= l.ind; argv += l.ind;
  if (!argc) strerr_dieusage(EXIT_USAGE, USAGE);
  tlsconf_from_env(&conf);
  engine_main(&conf, argv);
}
