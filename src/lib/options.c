#include <limits.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "options.h"

static unsigned int scan_uint(int opt, char const *arg)
{
  unsigned int u;
  char o[2] = { (char)opt, 0 };
  /* Deadlines become tain via an int of milliseconds: keep every number
     within INT_MAX (24 days), beyond which it would not be honoured. */
  if (!uint0_scan(arg, &u) || u > INT_MAX) strerr_dief4x(100, "option -", o, " needs a number up to 2147483647, not ", arg);
  return u;
}

int options_common(struct tlsconf *c, int opt, char const *arg)
{
  switch (opt) {
    case 'n': c->delayed = 1; return 1;
    case 'v': c->verbosity = scan_uint(opt, arg); return 1;
    case 'c': c->certfile = arg; return 1;
    case 'k': c->keyfile = arg; return 1;
    case 'a': c->cafile = arg; return 1;
    case 'A': c->cadir = arg; return 1;
    case 'r': c->crlfile = arg; return 1;
    case 'C': c->ciphers = arg; return 1;
    case 'p': c->protocols = arg; return 1;
    case 'K': c->handshake_ms = scan_uint(opt, arg); return 1;
    case 'T': c->idle_ms = scan_uint(opt, arg); return 1;
    case 'S': c->close_notify = 1; return 1;
    case 's': c->close_notify = 0; return 1;
    case 'u': scan_uint(opt, arg); c->uid = arg; return 1;
    case 'g': scan_uint(opt, arg); c->gid = arg; return 1;
    default: return 0;
  }
}
