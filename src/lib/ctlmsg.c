#include <string.h>
#include "ctlmsg.h"

static int set_string(char *dst, size_t dstlen, char const *v, size_t vlen)
{
  if (!vlen || vlen >= dstlen) return 0;
  memcpy(dst, v, vlen);
  dst[vlen] = 0;
  return 1;
}

long ctlmsg_parse_socket(char const *s, size_t len, struct ctlmsg_socket *out)
{
  size_t i = 0;
  memset(out, 0, sizeof *out);
  out->verify = 1;
  for (;;) {
    char const *end, *eq;
    size_t elen;
    if (i >= len) return len > CTLMSG_PARAMS_MAX ? -1 : 0;
    if (!s[i]) break;
    end = memchr(s + i, 0, len - i);
    if (!end) return len - i > CTLMSG_PARAMS_MAX ? -1 : 0;
    elen = (size_t)(end - (s + i));
    eq = memchr(s + i, '=', elen);
    if (!eq) return -1;
    if ((size_t)(eq - (s + i)) == 4 && !memcmp(s + i, "host", 4)) {
      if (!set_string(out->host, sizeof out->host, eq + 1, elen - 5)) return -1;
    } else if ((size_t)(eq - (s + i)) == 6 && !memcmp(s + i, "cafile", 6)) {
      if (!set_string(out->cafile, sizeof out->cafile, eq + 1, elen - 7)) return -1;
    } else if ((size_t)(eq - (s + i)) == 6 && !memcmp(s + i, "verify", 6)) {
      if (elen != 8 || (eq[1] != '0' && eq[1] != '1')) return -1;
      out->verify = eq[1] == '1';
    } else return -1;
    i += elen + 1;
    if (i > CTLMSG_PARAMS_MAX) return -1;
  }
  if (!out->host[0]) return -1;
  return (long)i + 1;
}
