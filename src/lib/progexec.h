/* progexec: the last steps before prog's exec, the same wherever prog
   starts: in the engine's waiting child (prog.c) or in tlsdserver, which
   runs prog in its own process for tlsd. No OpenSSL here. */
#ifndef UCSPITLS_PROGEXEC_H
#define UCSPITLS_PROGEXEC_H

#include <skalibs/stralloc.h>

/* Move a descriptor to the lowest free number from 3 up (a shell reaches
   only 0 to 9). Returns the new number, or -1. */
extern int progexec_fd_lowest(int fd);

/* msg: the start message, "+" or "-" then an environment block with its
   terminator (envblock.h). Delayed mode (ctl >= 0): "+" puts ctl, rfd and
   wfd at the lowest free numbers from 3 and names them in SSLCTLFD,
   SSLREADFD, SSLWRITEFD; "-" closes them and unsets the three. Then the
   environment is merged (every occurrence of a named variable goes) and
   argv executed. Returns only on failure: -1, errno EPROTO for a malformed
   message, else the failure of the exec. msg is changed. */
extern int progexec_run(char const *const *argv, stralloc *msg, int ctl, int rfd, int wfd);

#endif
