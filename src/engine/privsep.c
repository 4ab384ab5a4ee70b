#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <skalibs/setgroups.h>
#include <skalibs/types.h>
#include "exitcodes.h"
#include "privsep.h"

void privsep_nodump(void)
{
  struct rlimit none = { 0, 0 };
  setrlimit(RLIMIT_CORE, &none);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

int privsep_drop(struct tlsconf const *c, struct reason *r)
{
  uid_t uid;
  gid_t gid;
  if (c->chrootdir && (chdir(c->chrootdir) < 0 || chroot(".") < 0)) {
    reason_sys(r, EXIT_TEMP, "unable to chroot to ", c->chrootdir, 0);
    return -1;
  }
  /* tlsconf's checks made sure both are set, or neither, and numeric. */
  /* setgroups_and_gid sets the supplementary groups (gid among them);
     the gid itself is setgid's. */
  if (c->gid && gid0_scan(c->gid, &gid) && (setgroups_and_gid(gid, 1, &gid) < 0 || setgid(gid) < 0)) {
    reason_sys(r, EXIT_TEMP, "unable to set gid ", c->gid, 0);
    return -1;
  }
  if (c->uid && uid0_scan(c->uid, &uid) && setuid(uid) < 0) {
    reason_sys(r, EXIT_TEMP, "unable to set uid ", c->uid, 0);
    return -1;
  }
  return 0;
}
