#include <limits.h>
#include <skalibs/types.h>
#include "exitcodes.h"
#include "options.h"

/* Deadlines become tain via an int of milliseconds: keep every number
   within INT_MAX (24 days), beyond which it would not be honoured. */
static int scan_uint(int opt, char const *arg, unsigned int *u, struct reason *r)
{
  char o[2] = { (char)opt, 0 };
  if (uint0_scan(arg, u) && *u <= INT_MAX) return 0;
  reason_set(r, EXIT_USAGE, "option -", o, " needs a number up to 2147483647, not ", arg);
  return -1;
}

int options_common(struct tlsconf *c, int opt, char const *arg, struct reason *r)
{
  unsigned int u;
  switch (opt) {
    case 'n': c->delayed = 1; return 1;
    case 'F': c->strict = 1; return 1;
    case 'v': return scan_uint(opt, arg, &c->verbosity, r) < 0 ? -1 : 1;
    case 'c': c->certfile = arg; return 1;
    case 'k': c->keyfile = arg; return 1;
    case 'a': c->cafile = arg; return 1;
    case 'A': c->cadir = arg; return 1;
    case 'r': c->crlfile = arg; return 1;
    case 'C': c->ciphers = arg; return 1;
    case 'p': c->protocols = arg; return 1;
    case 'K': return scan_uint(opt, arg, &c->handshake_ms, r) < 0 ? -1 : 1;
    case 'T': return scan_uint(opt, arg, &c->idle_ms, r) < 0 ? -1 : 1;
    case 'S': c->close_notify = 1; return 1;
    case 's': c->close_notify = 0; return 1;
    case 'u': if (scan_uint(opt, arg, &u, r) < 0) return -1; c->uid = arg; return 1;
    case 'g': if (scan_uint(opt, arg, &u, r) < 0) return -1; c->gid = arg; return 1;
    default: return 0;
  }
}

int options_check(struct tlsconf const *c, struct reason *r)
{
  uid_t uid;
  gid_t gid;
  /* Dropping the uid but keeping root's group would leave the engine able
     to read group-0 files: both or neither. */
  if (c->uid && !c->gid) { reason_set(r, EXIT_USAGE, "TLS_UID (-u) needs TLS_GID (-g) too", 0, 0, 0); return -1; }
  if (c->gid && !c->uid) { reason_set(r, EXIT_USAGE, "TLS_GID (-g) needs TLS_UID (-u) too", 0, 0, 0); return -1; }
  if (c->uid && !uid0_scan(c->uid, &uid)) { reason_set(r, EXIT_USAGE, "invalid uid: ", c->uid, 0, 0); return -1; }
  if (c->gid && !gid0_scan(c->gid, &gid)) { reason_set(r, EXIT_USAGE, "invalid gid: ", c->gid, 0, 0); return -1; }
  if (c->is_server && c->clientcert == CLIENTCERT_REQUIRED && !c->cafile && !c->cadir) {
    reason_set(r, EXIT_USAGE, "-Y needs CAFILE or CADIR to verify client certificates", 0, 0, 0);
    return -1;
  }
  return 0;
}
