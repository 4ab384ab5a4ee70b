/* accessrules: tcprules-compatible access control for tlsserver -L. The
   cdb written by ucspi-tcp's tcprules maps an address or an address
   prefix ("127.0.0.1", "127.0.0.", ..., "") to "D" (deny) or a list of
   "+VAR=value\0" environment settings (allow). */
#ifndef UCSPITLS_ACCESSRULES_H
#define UCSPITLS_ACCESSRULES_H

#include <skalibs/stralloc.h>

/* Look ip up in the cdb file. 1 allow (the rule's settings appended to env
   as an envblock, without terminator), 0 deny, -1 the file is unreadable
   (errno set). The most specific rule wins, as with tcpserver -x. */
extern int accessrules_check(char const *cdbfile, char const *ip, stralloc *env);

#endif
