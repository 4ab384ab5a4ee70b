/* fuzz_pemsplit: libFuzzer harness for pemfile_next_block() and
 * pemfile_split(), which separate a combined certificate file (chain and
 * key, the qmail-tls servercert.pem) into the text libtls gets as its
 * certificate and the text it gets as its key.
 *
 * Properties, on any input:
 *  - every block pemfile_next_block() returns lies inside the input,
 *    starts with "-----BEGIN " and ends with "-----", and blocks come in
 *    order without overlapping;
 *  - pemfile_split() returns -1 or the number of key blocks it wrote;
 *  - every block of the certificate output and of the key output is a
 *    substring of the input, and the outputs hold nothing else (each block
 *    followed by one "\n");
 *  - the certificate output holds only certificate blocks, the key output
 *    only key blocks; no key block's text appears anywhere in the
 *    certificate output, and every line of it that starts with "-----" is a
 *    CERTIFICATE marker;
 *  - splitting the certificate output again gives it back unchanged and no
 *    key (the split is a fixed point);
 *  - pemfile_validity() on the input does not crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "pemfile.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz_pemsplit: property failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size);

/* Walk out (an output of pemfile_split): blocks back to back, each followed
   by "\n", each of an allowed kind, each a substring of in. Returns the
   number of blocks. */
static int walk(char const *out, size_t outlen, char const *in, size_t inlen, int want_keys)
{
  size_t pos = 0, expect = 0;
  struct pemblock b;
  int n = 0, r;
  while ((r = pemfile_next_block(out, outlen, &pos, &b)) > 0) {
    CHECK(b.start == expect);
    CHECK(b.start + b.len < outlen && out[b.start + b.len] == '\n');
    CHECK(memmem(in, inlen, out + b.start, b.len) != 0);
    if (want_keys) CHECK(b.kind == PEMBLOCK_KEY || b.kind == PEMBLOCK_KEY_ENCRYPTED);
    else CHECK(b.kind == PEMBLOCK_CERT);
    expect = b.start + b.len + 1;
    n++;
  }
  CHECK(r == 0);
  CHECK(expect == outlen);
  return n;
}

static int markers_are_certificates(char const *s, size_t len)
{
  size_t i = 0;
  while (i < len) {
    char const *nl = memchr(s + i, '\n', len - i);
    size_t e = nl ? (size_t)(nl - s) : len, n = e - i;
    if (n && s[e - 1] == '\r') n--;
    if (n >= 5 && !memcmp(s + i, "-----", 5)
        && !(n == 27 && !memcmp(s + i, "-----BEGIN CERTIFICATE-----", 27))
        && !(n == 25 && !memcmp(s + i, "-----END CERTIFICATE-----", 25))
        && !(n == 32 && !memcmp(s + i, "-----BEGIN X509 CERTIFICATE-----", 32))
        && !(n == 30 && !memcmp(s + i, "-----END X509 CERTIFICATE-----", 30))) return 0;
    i = e + 1;
  }
  return 1;
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  char const *in = (char const *)data;
  size_t pos = 0, last_end = 0;
  struct pemblock b;
  stralloc certs = STRALLOC_ZERO, keys = STRALLOC_ZERO, c2 = STRALLOC_ZERO, k2 = STRALLOC_ZERO;
  int r, enc, enc2, nkeys, i;
  struct pemfile_validity v;

  while ((r = pemfile_next_block(in, size, &pos, &b)) > 0) {
    CHECK(b.start >= last_end && b.start + b.len <= size && b.len >= 16);
    CHECK(!memcmp(in + b.start, "-----BEGIN ", 11));
    CHECK(!memcmp(in + b.start + b.len - 5, "-----", 5));
    CHECK(pos >= b.start + b.len && pos <= size);
    last_end = b.start + b.len;
  }
  CHECK(r == 0 || r == -1);

  nkeys = pemfile_split(in, size, &certs, &keys, &enc);
  if (nkeys >= 0) {
    CHECK(walk(certs.s, certs.len, in, size, 0) >= 0);
    CHECK(walk(keys.s, keys.len, in, size, 1) == nkeys);
    CHECK(markers_are_certificates(certs.s, certs.len));
    pos = 0;
    while (pemfile_next_block(keys.s, keys.len, &pos, &b) > 0)
      CHECK(!memmem(certs.s, certs.len, keys.s + b.start, b.len));
    if (certs.len) {
      i = pemfile_split(certs.s, certs.len, &c2, &k2, &enc2);
      CHECK(i == 0 && !enc2 && !k2.len);
      CHECK(c2.len == certs.len && !memcmp(c2.s, certs.s, certs.len));
    }
  }
  pemfile_wipe(&certs);
  pemfile_wipe(&keys);
  pemfile_wipe(&c2);
  pemfile_wipe(&k2);
  (void)pemfile_validity(in, size, (time_t)1700000000, &v);
  return 0;
}
