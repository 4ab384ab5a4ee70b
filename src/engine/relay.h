/* relay: plaintext between prog's channel and the TLS session, both
   directions at once, until both are closed or the idle deadline passes. */
#ifndef UCSPITLS_RELAY_H
#define UCSPITLS_RELAY_H

#include <tls.h>
#include "netio.h"
#include "appchan.h"
#include "summary.h"

/* idle_ms 0: no idle deadline. close_notify 0: on prog's EOF only
   half-close TCP. Ends with every descriptor of the channel closed, and
   fills in the outcome: close=, reason= and the byte counts of s. */
extern void relay_run(struct tls *, struct netio *, struct appchan *, unsigned int idle_ms, int close_notify, struct summary *s);

#endif
