/* tlsserver: TLS for a program under tcpserver. Network on 0/1; prog gets
   plaintext on 0/1 after the handshake (or UCSPI-TLS with -n).
   With -L it accepts connections itself (listening mode). */
#include <skalibs/sgetopt.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "exitcodes.h"
#include "engine.h"
#include "options.h"

char const *PROG = "tlsserver";
#define USAGE "tlsserver [ -t ] [ -n ] [ -F ] [ -v level ] [ -c certfile ] [ -k keyfile ] [ -a cafile ] [ -A cadir ] [ -r crlfile ] [ -y | -Y ] [ -C ciphers ] [ -p protocols ] [ -K handshake_ms ] [ -T idle_ms ] [ -S | -s ] [ -u uid -g gid ] [ -L [ -m maxconn ] [ -x rules.cdb ] ip port ] prog... (ucspi-tls " UCSPITLS_VERSION ")"

int main(int argc, char const *const *argv)
{
  struct tlsconf conf, options_only;
  struct reason r;
  subgetopt l = SUBGETOPT_ZERO;
  int listening = 0, maxconn_given = 0, check_only = 0;
  unsigned int maxconn = 40;
  char const *rules = 0;
  tlsconf_init(&conf, 1);
  for (;;) {
    int opt = subgetopt_r(argc, argv, OPTIONS_COMMON "tyYLm:x:", &l);
    if (opt == -1) break;
    switch (options_common(&conf, opt, l.arg, &r)) {
      case 1: continue;
      case -1: strerr_dief1x(r.code, r.text);
    }
    switch (opt) {
      case 't': check_only = 1; break;
      case 'y': conf.clientcert = CLIENTCERT_OPTIONAL; break;
      case 'Y': conf.clientcert = CLIENTCERT_REQUIRED; break;
      case 'L': listening = 1; break;
      case 'm': if (!uint0_scan(l.arg, &maxconn) || !maxconn) strerr_dieusage(EXIT_USAGE, USAGE); maxconn_given = 1; break;
      case 'x': rules = l.arg; break;
      default: strerr_dieusage(EXIT_USAGE, USAGE);
    }
  }
  argc -= l.ind; argv += l.ind;
  if (check_only) {
    /* -t: load the whole configuration as a session would (every file,
       string and key match), say whether it works, and stop: for run
       scripts and conversions to check before they go live. No degrading
       to plaintext here: a configuration that fails, fails. */
    struct tlsctx t;
    tlsconf_from_env(&conf);
    if (options_check(&conf, &r) < 0 || tlsctx_load(&t, &conf, &r) < 0) strerr_dief1x(r.code, r.text);
    if (t.warning.text[0]) strerr_warnw1x(t.warning.text);
    strerr_warni1x("configuration ok");
    tlsctx_free(&t);
    return 0;
  }
  if (argc < (listening ? 3 : 1)) strerr_dieusage(EXIT_USAGE, USAGE);
  /* Access control must never be dropped silently. */
  if (!listening && (rules || maxconn_given)) strerr_dief1x(EXIT_USAGE, "-x and -m work only with -L (under tcpserver, use its -x and -c)");
  options_only = conf;
  tlsconf_from_env(&conf);
  if (options_check(&conf, &r) < 0) strerr_dief1x(r.code, r.text);
  if (listening) engine_listen(&conf, &options_only, argv[0], argv[1], maxconn, rules, argv + 2);
  engine_main(&conf, argv, 0, 0);
}
