/* control: delayed mode's side of the UCSPI-TLS control socket
   (doc/ucspi-tls-protocol.md). 'y' / 'Y' start TLS; EOF declines;
   tlsclient's late socket arrives first as 'S' + parameters with the
   connected socket attached (SCM_RIGHTS). */
#ifndef UCSPITLS_CONTROL_H
#define UCSPITLS_CONTROL_H

#include <stddef.h>
#include "ctlmsg.h"
#include "reason.h"

enum control_cmd {
  CONTROL_TLS,          /* 'y': start TLS, no reply */
  CONTROL_TLS_REPLY,    /* 'Y': start TLS, reply with the environment */
  CONTROL_DECLINED,     /* EOF before any command: plaintext goes on */
  CONTROL_ERROR         /* r: code 99 (protocol) or 111 (system) */
};

/* Wait for prog's command. late != NULL: a late socket must come first;
   its parameters go to *late and the descriptor to *sock. */
extern enum control_cmd control_wait(int ctl, struct ctlmsg_socket *late, int *sock, struct reason *r);

/* Non-blocking best effort: a program that never reads its reply must not
   stop the session. */
extern void control_send(int ctl, char const *s, size_t len);

#endif
