/* fuzz_ctlmsg: libFuzzer harness for ctlmsg_parse_socket, the parser of the
 * late-socket parameter block (what follows the 'S' byte on SSLCTLFD).
 *
 * Properties checked on every input (abort() on a violation):
 *  - the result is -1, 0 or a length n with 1 <= n <= len, the block's last
 *    byte s[n-1] is the terminating NUL, and n <= CTLMSG_PARAMS_MAX + 1;
 *  - the parse agrees with an independent reference parser written from
 *    doc/ucspi-tls-protocol.md (same verdict, host, cafile, verify);
 *  - on success host is non-empty and both strings are NUL-terminated inside
 *    their arrays;
 *  - prefix consistency: parsing s[0..n) again gives the same result, and no
 *    shorter prefix is ever reported complete;
 *  - re-encoding the parsed parameters (as ucspitls_send_socket does) parses
 *    back to the same parameters.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ctlmsg.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz_ctlmsg: property failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size);

/* Reference: entries "key=value\0" up to an empty entry; keys host (1..255
 * bytes), cafile (1..1023 bytes), verify (0 or 1); anything else, an entry
 * without '=', or a block longer than CTLMSG_PARAMS_MAX is malformed. The
 * last occurrence of a key wins. */
static long ref_parse(char const *s, size_t len, struct ctlmsg_socket *o)
{
  size_t i = 0;
  memset(o, 0, sizeof *o);
  o->verify = 1;
  for (;;) {
    size_t j, eq = (size_t)-1, klen, vlen;
    if (i >= len) return len > CTLMSG_PARAMS_MAX ? -1 : 0;
    if (!s[i]) break;
    for (j = i; j < len && s[j]; j++) if (s[j] == '=' && eq == (size_t)-1) eq = j;
    if (j == len) {
      /* an incomplete entry: malformed only when the block is already too long */
      return len - i > CTLMSG_PARAMS_MAX ? -1 : 0;
    }
    if (eq == (size_t)-1) return -1;
    klen = eq - i;
    vlen = j - eq - 1;
    if (klen == 4 && !memcmp(s + i, "host", 4)) {
      if (!vlen || vlen > 255) return -1;
      memcpy(o->host, s + eq + 1, vlen); o->host[vlen] = 0;
    } else if (klen == 6 && !memcmp(s + i, "cafile", 6)) {
      if (!vlen || vlen > 1023) return -1;
      memcpy(o->cafile, s + eq + 1, vlen); o->cafile[vlen] = 0;
    } else if (klen == 6 && !memcmp(s + i, "verify", 6)) {
      if (vlen != 1 || (s[eq + 1] != '0' && s[eq + 1] != '1')) return -1;
      o->verify = s[eq + 1] == '1';
    } else return -1;
    i = j + 1;
    if (i > CTLMSG_PARAMS_MAX) return -1;
  }
  if (!o->host[0]) return -1;
  return (long)i + 1;
}

static int same(struct ctlmsg_socket const *a, struct ctlmsg_socket const *b)
{
  return !strcmp(a->host, b->host) && !strcmp(a->cafile, b->cafile) && a->verify == b->verify;
}

static int terminated(char const *s, size_t n)
{
  return memchr(s, 0, n) != 0;
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  char const *s = (char const *)data;
  struct ctlmsg_socket got, ref, again;
  long r = ctlmsg_parse_socket(s, size, &got);
  long rr = ref_parse(s, size, &ref);

  CHECK(r >= -1);
  CHECK(r == rr);
  CHECK(terminated(got.host, sizeof got.host));
  CHECK(terminated(got.cafile, sizeof got.cafile));
  CHECK(got.verify == 0 || got.verify == 1);
  if (r <= 0) return 0;

  CHECK((size_t)r <= size);
  CHECK((size_t)r <= CTLMSG_PARAMS_MAX + 1);
  CHECK(s[r - 1] == 0);
  CHECK(got.host[0] != 0);
  CHECK(same(&got, &ref));

  /* the block alone parses the same; a strict prefix is never complete */
  CHECK(ctlmsg_parse_socket(s, (size_t)r, &again) == r && same(&again, &got));
  {
    size_t cut = (size_t)r - 1 - (size > 0 ? data[0] % (size_t)r : 0);
    if (cut < (size_t)r) CHECK(ctlmsg_parse_socket(s, cut, &again) <= 0);
  }

  /* re-encode the way ucspitls_send_socket does, parse it back */
  {
    char buf[CTLMSG_PARAMS_MAX + 64];
    size_t n = 0, hl = strlen(got.host), cl = strlen(got.cafile);
    long rb;
    memcpy(buf + n, "host=", 5); n += 5;
    memcpy(buf + n, got.host, hl); n += hl; buf[n++] = 0;
    if (cl) { memcpy(buf + n, "cafile=", 7); n += 7; memcpy(buf + n, got.cafile, cl); n += cl; buf[n++] = 0; }
    memcpy(buf + n, got.verify ? "verify=1" : "verify=0", 8); n += 8; buf[n++] = 0;
    buf[n++] = 0;
    rb = ctlmsg_parse_socket(buf, n, &again);
    CHECK(rb == (long)n);
    CHECK(same(&again, &got));
  }
  return 0;
}
