/* fuzz_cert_email: libFuzzer harness for peerreport_cert_email(), which
 * gives SSL_CLIENT_S_DN_Email / SSL_SERVER_S_DN_Email (relay by client
 * certificate compares it with control/tlsclients).
 *
 * The input is parsed with d2i_X509; for a certificate the address is
 * extracted into exactly sized heap buffers of several lengths (ASan sees
 * any write past them). Properties, for every length:
 *  - the output is NUL-terminated inside the buffer, and the return value
 *    is 1 exactly when the output is non-empty;
 *  - the output is never part of a value: it is empty, or the complete
 *    subject emailAddress (as UTF-8) or a complete subjectAltName
 *    rfc822Name. A value with an embedded NUL, or one that does not fit,
 *    is refused, never cut (an "a@x\0@evil" address must not read "a@x");
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

/* The rule: a value that fits and holds no control byte (NUL, newline,
   DEL, ...) is returned whole; any other value is refused, never cut. */
static int usable(unsigned char const *v, int n, size_t len)
{
  int i;
  if (n <= 0 || (size_t)n >= len) return 0;
  for (i = 0; i < n; i++) if (v[i] < 0x20 || v[i] == 0x7f) return 0;
  return 1;
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
    model(x, want, len);
    CHECK(!strcmp(b, want));
    free(b);
    free(want);
  }
  X509_free(x);
  ERR_clear_error();
  return 0;
}
