#include <string.h>
#include "envblock.h"
#include "tlsdproto.h"

static int name_is(char const *entry, char const *name)
{
  size_t n = strlen(name);
  return !strncmp(entry, name, n) && (!entry[n] || entry[n] == '=');
}

int tlsdproto_passed(char const *e)
{
  return !strncmp(e, "TCP", 3) || name_is(e, "PROTO") || name_is(e, "TLSCIPHERS")
    || name_is(e, "TLSPROTOCOLS") || name_is(e, "SMTPS");
}

int tlsdproto_request(stralloc *sa, int delayed, char const *progname, char const *const *env)
{
  size_t n = strlen(progname);
  if (n > TLSDPROTO_PROGNAME_MAX) n = TLSDPROTO_PROGNAME_MAX;
  if (!stralloc_catb(sa, delayed ? "d" : "i", 1) || !stralloc_catb(sa, progname, n) || !stralloc_0(sa)) return 0;
  for (; *env; env++) {
    if (!strchr(*env, '=') || !tlsdproto_passed(*env)) continue;
    if (!stralloc_cats(sa, *env) || !stralloc_0(sa)) return 0;
  }
  return envblock_end(sa);
}

int tlsdproto_parse_request(char *buf, size_t len, unsigned int nfds, struct tlsdproto_request *q)
{
  char const *z;
  size_t n, i;
  if (nfds != 2 || len < 3 || (buf[0] != 'i' && buf[0] != 'd')) return -1;
  q->delayed = buf[0] == 'd';
  z = memchr(buf + 1, 0, len - 1);
  if (!z) return -1;
  n = (size_t)(z - (buf + 1));
  if (n > TLSDPROTO_PROGNAME_MAX) return -1;
  for (i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)buf[1 + i];
    q->progname[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
  }
  q->progname[n] = 0;
  if (!n) memcpy(q->progname, "prog", 5);
  q->env = buf + n + 2;
  q->envlen = len - n - 2;
  if (envblock_check(q->env, q->envlen) < 0) return -1;
  q->envlen--;
  return 0;
}
