/* options: the command-line options both programs share. */
#ifndef UCSPITLS_OPTIONS_H
#define UCSPITLS_OPTIONS_H

#include "tlsconf.h"
#include "reason.h"

/* getopt string of the shared options */
#define OPTIONS_COMMON "nFv:c:k:a:A:r:C:p:K:T:Ssu:g:"

/* Apply one shared option. 1 handled, 0 not a shared option, -1 a bad
   value (r says which, with code 100). */
extern int options_common(struct tlsconf *, int opt, char const *arg, struct reason *r);

/* Checks across settings (from options and environment together): 0 ok,
   -1 refused (r says why, code 100). */
extern int options_check(struct tlsconf const *, struct reason *r);

#endif
