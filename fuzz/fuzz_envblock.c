/* fuzz_envblock: libFuzzer harness for the envblock encoding ("NAME=value\0
 * ... \0"), used by the Y reply and by the engine -> child start message.
 *
 * The first input byte chooses the mode:
 *  even: round trip. The rest of the input is cut into (name, value) pairs
 *        (0x01 separates name from value, 0x02 ends a pair, 0x03 in place of
 *        0x01 makes an "unset NAME" entry). Names are made valid (non-empty,
 *        no '=' and no NUL); values lose their NULs. The block is built with
 *        skalibs env_addmodif / envblock_end and must then:
 *          - pass envblock_check with exactly the number of pairs;
 *          - be byte-identical to an independently built encoding;
 *          - give, through envblock_get, for every name the value of its
 *            first "NAME=" entry (NULL when it has none), as a pointer
 *            inside the block.
 *  odd:  arbitrary bytes (in an exactly sized heap copy, so that ASan sees a
 *        read one past the end) go to envblock_check and envblock_get; a
 *        well-formed verdict must agree with a reference checker, and a
 *        pointer returned by envblock_get must lie inside the block and, in a
 *        block whose last entry is NUL-terminated, point to a NUL-terminated
 *        string inside it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include <skalibs/env.h>
#include "envblock.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz_envblock: property failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size);

#define MAXPAIRS 64

struct pair { char *name, *value; };   /* value 0: unset entry */

static long ref_check(char const *b, size_t len)
{
  size_t i = 0;
  long n = 0;
  if (!len) return -1;
  while (i < len) {
    size_t j = i;
    if (!b[i]) return i + 1 == len ? n : -1;
    if (b[i] == '=') return -1;
    while (j < len && b[j]) j++;
    if (j == len) return -1;
    n++;
    i = j + 1;
  }
  return -1;
}

/* value of the first NAME= entry among the entries before the terminator */
static char const *ref_get(char const *b, size_t len, char const *name)
{
  size_t n = strlen(name), i = 0;
  while (i < len && b[i]) {
    size_t j = i;
    while (j < len && b[j]) j++;
    if (j - i > n && !memcmp(b + i, name, n) && b[i + n] == '=') return b + i + n + 1;
    i = j + 1;
  }
  return 0;
}

static void round_trip(uint8_t const *d, size_t size)
{
  struct pair p[MAXPAIRS];
  size_t np = 0, i = 0, k;
  stralloc sa = STRALLOC_ZERO;
  char *ref;
  size_t reflen = 0, refcap = 2 * size + 8 * MAXPAIRS + 16;
  long n;

  while (i < size && np < MAXPAIRS) {
    size_t a = i, nl, vl = 0;
    int unset = 0;
    char *name, *value = 0;
    while (i < size && d[i] != 1 && d[i] != 2 && d[i] != 3) i++;
    nl = i - a;
    name = malloc(nl + 2);
    CHECK(name);
    for (k = 0; k < nl; k++) name[k] = (d[a + k] == '=' || !d[a + k]) ? '_' : (char)d[a + k];
    if (!nl) name[nl++] = 'N';
    name[nl] = 0;
    if (i < size && d[i] == 3) unset = 1;
    if (i < size && (d[i] == 1 || d[i] == 3)) {
      size_t b;
      i++;
      b = i;
      while (i < size && d[i] != 2) i++;
      if (!unset) {
        value = malloc(i - b + 1);
        CHECK(value);
        for (k = b; k < i; k++) if (d[k]) value[vl++] = (char)d[k];
        value[vl] = 0;
      }
    } else if (!unset) {
      value = malloc(1);          /* NAME= with an empty value */
      CHECK(value);
      value[0] = 0;
    }
    if (i < size) i++;            /* the 0x02 */
    p[np].name = name;
    p[np].value = value;
    np++;
  }

  /* the block, through the API */
  for (k = 0; k < np; k++) CHECK(env_addmodif(&sa, p[k].name, p[k].value));
  CHECK(envblock_end(&sa));

  /* the block, by hand */
  ref = malloc(refcap);
  CHECK(ref);
  for (k = 0; k < np; k++) {
    size_t nl = strlen(p[k].name);
    memcpy(ref + reflen, p[k].name, nl); reflen += nl;
    if (p[k].value) {
      size_t vl = strlen(p[k].value);
      ref[reflen++] = '=';
      memcpy(ref + reflen, p[k].value, vl); reflen += vl;
    }
    ref[reflen++] = 0;
  }
  ref[reflen++] = 0;
  CHECK(reflen <= refcap);
  CHECK(sa.len == reflen && !memcmp(sa.s, ref, reflen));

  n = envblock_check(sa.s, sa.len);
  CHECK(n == (long)np);
  CHECK(envblock_check(sa.s, sa.len - 1) == -1);   /* no terminator: never valid */

  for (k = 0; k < np; k++) {
    char const *got = envblock_get(sa.s, sa.len, p[k].name);
    char const *want = ref_get(sa.s, sa.len, p[k].name);
    size_t j, first = np;
    CHECK(got == want);
    /* the first "NAME=" pair of this name, by the pair list */
    for (j = 0; j < np; j++) if (p[j].value && !strcmp(p[j].name, p[k].name)) { first = j; break; }
    if (first == np) CHECK(!got);
    else {
      CHECK(got && got >= sa.s && got < sa.s + sa.len);
      CHECK(!strcmp(got, p[first].value));
    }
    /* without the terminator too ("entries only, no terminator needed") */
    CHECK(envblock_get(sa.s, sa.len - 1, p[k].name) == got);
  }

  for (k = 0; k < np; k++) { free(p[k].name); free(p[k].value); }
  free(ref);
  stralloc_free(&sa);
}

static void arbitrary(uint8_t const *d, size_t size)
{
  static char const *const names[] = { "A", "SSL_PROTOCOL", "SSL_ERROR", "X", "", 0 };
  char *b = malloc(size ? size : 1);
  long n, rn;
  size_t k;
  CHECK(b);
  memcpy(b, d, size);
  n = envblock_check(b, size);
  rn = ref_check(b, size);
  CHECK(n == rn);
  if (n >= 0) CHECK(size > 0 && b[size - 1] == 0);
  for (k = 0; names[k]; k++) {
    char const *v = envblock_get(b, size, names[k]);
    CHECK(v == ref_get(b, size, names[k]));
    if (v) {
      CHECK(v >= b && v <= b + size);
      if (size && b[size - 1] == 0) CHECK(v < b + size && memchr(v, 0, (size_t)(b + size - v)));
    }
  }
  /* a name taken from the input itself (up to its first NUL, '=' or 16 bytes) */
  {
    char name[17];
    size_t l = 0;
    while (l < size && l < 16 && b[l] && b[l] != '=') { name[l] = b[l]; l++; }
    name[l] = 0;
    (void)envblock_get(b, size, name);
  }
  free(b);
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  if (!size) { CHECK(envblock_check("", 0) == -1); return 0; }
  if (data[0] & 1) arbitrary(data + 1, size - 1);
  else round_trip(data + 1, size - 1);
  return 0;
}
