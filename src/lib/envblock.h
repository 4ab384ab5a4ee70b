/* envblock: the "NAME=value\0 ... \0" encoding shared by the Y reply of the
   UCSPI-TLS protocol and the engine -> child start message. An entry
   without '=' means "unset NAME". */
#ifndef UCSPITLS_ENVBLOCK_H
#define UCSPITLS_ENVBLOCK_H

#include <stddef.h>
#include <skalibs/stralloc.h>

/* Entries are appended with skalibs' env_addmodif (NAME=value\0, or
   NAME\0 when value is NULL). */
/* Append the terminating \0. */
extern int envblock_end(stralloc *);
/* Value of NAME in a block (entries only, no terminator needed): NULL when
   absent or unset in it. */
extern char const *envblock_get(char const *block, size_t len, char const *name);
/* Check a complete block: entries, then one \0 at the very end.
   Returns the number of entries, or -1 if malformed. */
extern long envblock_check(char const *block, size_t len);

/* The environment prog gets: every entry of env whose name the block does
   not name (set or unset: EVERY occurrence goes, so a variable given twice
   cannot slip a forged copy through), then the block's NAME=value entries.
   block: entries without terminator. envp needs room for env_len(env) +
   (entries in the block) + 1 pointers; it is NULL-terminated. Returns the
   number of entries written. */
extern size_t envblock_merge(char const **envp, char const *const *env, char const *block, size_t len);

#endif
