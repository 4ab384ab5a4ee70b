#include <string.h>
#include "envblock.h"

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

/* Length of the name of an environment entry or a block entry. */
static size_t name_len(char const *s)
{
  char const *eq = strchr(s, '=');
  return eq ? (size_t)(eq - s) : strlen(s);
}

static int block_names(char const *block, size_t len, char const *entry)
{
  size_t n = name_len(entry), i = 0;
  while (i < len) {
    size_t elen = strlen(block + i);
    if (name_len(block + i) == n && !memcmp(block + i, entry, n)) return 1;
    i += elen + 1;
  }
  return 0;
}

size_t envblock_merge(char const **envp, char const *const *env, char const *block, size_t len)
{
  size_t n = 0, i = 0;
  for (; *env; env++) if (!block_names(block, len, *env)) envp[n++] = *env;
  while (i < len) {
    if (strchr(block + i, '=')) envp[n++] = block + i;
    i += strlen(block + i) + 1;
  }
  envp[n] = 0;
  return n;
}
