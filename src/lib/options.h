/* options: the command-line options both programs share. */
#ifndef UCSPITLS_OPTIONS_H
#define UCSPITLS_OPTIONS_H

#include "tlsconf.h"

/* getopt string of the shared options */
#define OPTIONS_COMMON "nv:c:k:a:A:r:C:p:K:T:Ssu:g:"

/* Apply one shared option. 1 handled, 0 not a shared option; dies with
   exit 100 on a bad value. */
extern int options_common(struct tlsconf *, int opt, char const *arg);

#endif
