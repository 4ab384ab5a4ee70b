/* privsep: what the engine does to itself around its keys. */
#ifndef UCSPITLS_PRIVSEP_H
#define UCSPITLS_PRIVSEP_H

#include "tlsconf.h"
#include "reason.h"

/* Before any key is read: no core dump (RLIMIT_CORE 0 as well, so that
   even a signal re-raised for prog cannot write one), no ptrace or
   /proc/PID/mem access by same-uid processes (prog, when TLS_UID is not
   used), nothing this process could exec gains privileges. prog's process
   must already be forked: none of it reaches prog. */
extern void privsep_nodump(void);

/* Once the keys are in memory: TLS_CHROOT, then groups and gid, then uid.
   0 ok, -1 (r, code 111). */
extern int privsep_drop(struct tlsconf const *, struct reason *r);

#endif
