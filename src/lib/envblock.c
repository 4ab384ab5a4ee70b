#include <string.h>
#include "envblock.h"

int envblock_add(stralloc *sa, char const *name, char const *value)
{
  if (!stralloc_cats(sa, name)) return 0;
  if (value && (!stralloc_catb(sa, "=", 1) || !stralloc_cats(sa, value))) return 0;
  return stralloc_0(sa);
}

int envblock_end(stralloc *sa)
{
  return stralloc_0(sa);
}

char const *envblock_get(char const *block, size_t len, char const *name)
{
  size_t n = strlen(name), i = 0;
  while (i < len && block[i]) {
    char const *e = memchr(block + i, 0, len - i);
    size_t elen = e ? (size_t)(e - (block + i)) : len - i;
    if (elen > n && !memcmp(block + i, name, n) && block[i + n] == '=') return block + i + n + 1;
    i += elen + 1;
  }
  return 0;
}

long envblock_check(char const *block, size_t len)
{
  long entries = 0;
  size_t i = 0;
  while (i < len) {
    char const *e;
    if (!block[i]) return i + 1 == len ? entries : -1;
    e = memchr(block + i, 0, len - i);
    if (!e) return -1;
    if (block[i] == '=') return -1;        /* an entry needs a name */
    i = (size_t)(e - block) + 1;
    entries++;
  }
  return -1;                               /* no terminator */
}
