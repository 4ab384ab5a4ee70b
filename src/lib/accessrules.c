#include <errno.h>
#include <string.h>
#include <skalibs/cdb.h>
#include "accessrules.h"

static int apply_rule(char const *s, size_t len, stralloc *env)
{
  size_t i = 0;
  if (len && s[0] == 'D') return 0;
  while (i < len) {
    char const *end = memchr(s + i, 0, len - i);
    size_t elen = end ? (size_t)(end - (s + i)) : len - i;
    /* '+VAR=value' sets; anything else in a rule is not ours to interpret */
    if (elen > 1 && s[i] == '+' && memchr(s + i, '=', elen)) {
      if (!stralloc_catb(env, s + i + 1, elen - 1) || !stralloc_0(env)) return -1;
    }
    i += elen + 1;
  }
  return 1;
}

int accessrules_check(char const *cdbfile, char const *ip, stralloc *env)
{
  cdb c = CDB_ZERO;
  cdb_data data;
  size_t len = strlen(ip);
  int r = 1;
  if (!cdb_init(&c, cdbfile)) return -1;
  /* The whole address, then each prefix ending in a separator, then "". */
  for (;;) {
    int found = cdb_find(&c, &data, ip, (uint32_t)len);
    if (found < 0) { r = -1; errno = EINVAL; break; }
    if (found) { r = apply_rule(data.s, data.len, env); break; }
    if (!len) break;
    do len--; while (len && ip[len - 1] != '.' && ip[len - 1] != ':');
  }
  cdb_free(&c);
  return r;
}
