/* fuzz_cert_email: libFuzzer harness for peerreport_cert_email(), which
 * gives SSL_CLIENT_S_DN_Email / SSL_SERVER_S_DN_Email (relay by client
 * certificate compares it with control/tlsclients).
 *
 * The input is first taken as text: peerreport_unsafe_text() must agree
 * with an independent UTF-8 decoder of the same rule. It is then parsed
 * with d2i_X509; for a certificate the address is
 * extracted into exactly sized heap buffers of several lengths (ASan sees
 * any write past them). Properties, for every length:
 *  - the output is NUL-terminated inside the buffer, and the return value
 *    is 1 exactly when the output is non-empty;
 *  - the output is never part of a value: it is empty, or the complete
 *    subject emailAddress (as UTF-8) or a complete subjectAltName
 *    rfc822Name. A value with an embedded NUL, or one that does not fit,
 *    is refused, never cut (an "a@x\0@evil" address must not read "a@x");
 *  - it is never unsafe text: no C0/C1 control, DEL, U+2028/U+2029, bidi
 *    control (U+061C, U+200E/F, U+202A-E, U+2066-9), no malformed UTF-8;
 *  - it is exactly what an independent reading of the certificate gives:
 *    the subject's first emailAddress when it is usable (non-empty, no NUL,
 *    fits), else the first usable rfc822Name, else nothing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "peerreport.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz_cert_email: property failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size);

/* The rule, written independently of peerreport.c: decode the value as
   UTF-8 the long way (the first byte's leading ones give the length, the
   shortest encoding must have been used) and refuse C0, DEL, C1, U+2028,
   U+2029 and the Bidi_Control characters; anything that does not decode
   is refused too. A value that fits and passes is returned whole; any
   other value is refused, never cut. */
static int forbidden(unsigned long u)
{
  static unsigned long const bad[] = { 0x7f, 0x061c, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202b,
                                       0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069 };
  size_t i;
  if (u < 0x20 || (u >= 0x80 && u < 0xa0)) return 1;
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) if (u == bad[i]) return 1;
  return 0;
}

static int safe_utf8(unsigned char const *v, int n)
{
  int i = 0;
  while (i < n) {
    int len = 0, k;
    unsigned long u;
    unsigned char c = v[i];
    while (len < 8 && (c & (0x80 >> len))) len++;
    if (len == 0) len = 1;
    else if (len == 1 || len > 4) return 0;
    if (i + len > n) return 0;
    u = len == 1 ? c : (unsigned long)(c & (0xff >> (len + 1)));
    for (k = 1; k < len; k++) {
      if ((v[i + k] >> 6) != 2) return 0;
      u = (u << 6) | (v[i + k] & 0x3f);
    }
    if ((len == 2 && u < 0x80) || (len == 3 && u < 0x800) || (len == 4 && u < 0x10000)) return 0;
    if (u > 0x10ffff || (u >= 0xd800 && u < 0xe000)) return 0;
    if (forbidden(u)) return 0;
    i += len;
  }
  return 1;
}

static int usable(unsigned char const *v, int n, size_t len)
{
  if (n <= 0 || (size_t)n >= len) return 0;
  return safe_utf8(v, n);
}

/* The expected address for a buffer of len bytes, into want (len bytes). */
static void model(X509 *x, char *want, size_t len)
{
  X509_NAME *subj = X509_get_subject_name(x);
  int idx = X509_NAME_get_index_by_NID(subj, NID_pkcs9_emailAddress, -1);
  GENERAL_NAMES *sans;
  int i;
  want[0] = 0;
  if (idx >= 0) {
    ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
    unsigned char *u = 0;
    int n = d ? ASN1_STRING_to_UTF8(&u, d) : -1;
    if (n >= 0 && usable(u, n, len)) { memcpy(want, u, (size_t)n); want[n] = 0; }
    OPENSSL_free(u);
    if (want[0]) return;
  }
  sans = X509_get_ext_d2i(x, NID_subject_alt_name, 0, 0);
  for (i = 0; sans && i < sk_GENERAL_NAME_num(sans) && !want[0]; i++) {
    GENERAL_NAME const *gn = sk_GENERAL_NAME_value(sans, i);
    if (gn->type != GEN_EMAIL) continue;
    if (usable(ASN1_STRING_get0_data(gn->d.rfc822Name), ASN1_STRING_length(gn->d.rfc822Name), len)) {
      size_t n = (size_t)ASN1_STRING_length(gn->d.rfc822Name);
      memcpy(want, ASN1_STRING_get0_data(gn->d.rfc822Name), n);
      want[n] = 0;
    }
  }
  GENERAL_NAMES_free(sans);
  ERR_clear_error();
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
  size_t lens[8] = { 1, 2, 3, 8, 21, 64, 256, 0 }, k;
  uint8_t const *p = data;
  X509 *x = d2i_X509(0, &p, (long)size);

  /* The filter itself, on the raw input as text: the two readings agree. */
  CHECK(peerreport_unsafe_text(data, size) == !safe_utf8(data, (int)size));
  if (!x) { ERR_clear_error(); return 0; }
  lens[7] = 4 * size + 2;       /* larger than any value in the input, even as UTF-8 */
  for (k = 0; k < sizeof lens / sizeof lens[0]; k++) {
    size_t len = lens[k];
    char *b = malloc(len), *want = malloc(len);
    int r;
    CHECK(b && want);
    memset(b, 'x', len);
    r = peerreport_cert_email(x, b, len);
    CHECK(memchr(b, 0, len) != 0);
    CHECK(r == (b[0] != 0));
    CHECK(!peerreport_unsafe_text((unsigned char const *)b, strlen(b)));
    model(x, want, len);
    CHECK(!strcmp(b, want));
    free(b);
    free(want);
  }
  X509_free(x);
  ERR_clear_error();
  return 0;
}
