#include <string.h>
#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <skalibs/env.h>
#include "envblock.h"
#include "peerreport.h"

char const *const peerreport_common_vars[] = {
  "SSL_PROTOCOL", "SSL_CIPHER", "SSL_CIPHER_USEKEYSIZE", "SSL_TLS_SNI_SERVERNAME", "SSL_TLS_SNI",
  "SSL_SESSION_RESUMED", "SSL_PEER_CERT_HASH", "SSL_PEER_CERT_SUBJECT", "SSL_PEER_CERT_REFUSED", 0
};
char const *const peerreport_client_vars[] = {
  "SSL_CLIENT_VERIFY", "SSL_CLIENT_S_DN", "SSL_CLIENT_I_DN", "SSL_CLIENT_S_DN_CN",
  "SSL_CLIENT_S_DN_Email", "SSL_CLIENT_V_END", "SSL_CLIENT_CERT_HASH", 0
};
char const *const peerreport_server_vars[] = {
  "SSL_SERVER_VERIFY", "SSL_SERVER_S_DN", "SSL_SERVER_I_DN", "SSL_SERVER_S_DN_CN",
  "SSL_SERVER_S_DN_Email", "SSL_SERVER_V_END", "SSL_SERVER_CERT_HASH", 0
};

/* Indexes into the role tables above. */
enum { V_VERIFY, V_S_DN, V_I_DN, V_S_DN_CN, V_S_DN_EMAIL, V_V_END, V_CERT_HASH, V_N };

/* A value of at most len-1 bytes, NUL-terminated; a longer one is refused
   (-1, buf empty), never cut: a cut could split an escape sequence. 1 a
   value, 0 none. */
static int bio_take(BIO *bio, char *buf, size_t len)
{
  char *data;
  long n = BIO_get_mem_data(bio, &data);
  buf[0] = 0;
  if (n <= 0) return 0;
  if ((size_t)n >= len) return -1;
  memcpy(buf, data, (size_t)n);
  buf[n] = 0;
  return 1;
}

/* RFC 2253 form. ASN1_STRFLGS_ESC_CTRL and ESC_MSB (both in
   XN_FLAG_RFC2253) write control and non-ASCII bytes as \XX escapes, so
   the result is printable ASCII whatever the certificate holds. */
static int name_rfc2253(X509_NAME *name, char *buf, size_t len)
{
  BIO *bio = BIO_new(BIO_s_mem());
  int r = 0;
  buf[0] = 0;
  if (!bio) return 0;
  if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) r = bio_take(bio, buf, len);
  BIO_free(bio);
  return r;
}

static int time_string(ASN1_TIME const *t, char *buf, size_t len)
{
  BIO *bio = BIO_new(BIO_s_mem());
  int r = 0;
  buf[0] = 0;
  if (!bio) return 0;
  if (ASN1_TIME_print(bio, t) == 1) r = bio_take(bio, buf, len);
  BIO_free(bio);
  return r > 0;
}

/* A value for a log line, a Received header or a tlsclients lookup must
   read as what it is. Refused: C0 controls (NUL and newline included) and
   DEL; bytes that are not well-formed UTF-8 (overlong forms, surrogates,
   past U+10FFFF, a lone continuation byte); C1 controls U+0080-U+009F; the
   line and paragraph separators U+2028 and U+2029; and the Unicode
   Bidi_Control characters (U+061C, U+200E, U+200F, U+202A-U+202E,
   U+2066-U+2069), which reorder the text around them on display. */
int peerreport_unsafe_text(unsigned char const *s, size_t n)
{
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    unsigned long u;
    size_t k, more;
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return 1;
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) { more = 1; u = c & 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { more = 2; u = c & 0x0f; }
    else if (c >= 0xf0 && c <= 0xf4) { more = 3; u = c & 0x07; }
    else return 1;                 /* continuation byte, 0xc0/0xc1, 0xf5.. */
    if (n - i <= more) return 1;
    for (k = 1; k <= more; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return 1;
      u = u << 6 | (s[i + k] & 0x3f);
    }
    if ((more == 2 && u < 0x800) || (more == 3 && (u < 0x10000 || u > 0x10ffff))) return 1;
    if (u >= 0xd800 && u <= 0xdfff) return 1;
    if (u <= 0x9f) return 1;                            /* C1 */
    if (u == 0x061c || u == 0x200e || u == 0x200f) return 1;
    if (u >= 0x2028 && u <= 0x202e) return 1;           /* separators, embeddings, overrides */
    if (u >= 0x2066 && u <= 0x2069) return 1;           /* isolates */
    i += more + 1;
  }
  return 0;
}

/* A server name as a client may send it: letters, digits, '-', '.', '_',
   at most 255. Anything else is not exported (and so not logged). */
static int valid_hostname(char const *s)
{
  size_t i;
  for (i = 0; s[i]; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (i >= 255 || !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
                      || ch == '-' || ch == '.' || ch == '_')) return 0;
  }
  return i > 0;
}

/* 1 copied, -1 refused (too long or unsafe: never cut), 0 empty. */
static int copy_asn1_string(ASN1_STRING const *s, char *buf, size_t len)
{
  size_t n = (size_t)ASN1_STRING_length(s);
  buf[0] = 0;
  if (!n) return 0;
  if (n >= len || peerreport_unsafe_text(ASN1_STRING_get0_data(s), n)) return -1;
  memcpy(buf, ASN1_STRING_get0_data(s), n);
  buf[n] = 0;
  return 1;
}

/* The first subject entry of this type, as UTF-8: 1 found, 0 none, -1
   refused (too long or unsafe text; an embedded NUL too: "a@x\0@evil"
   must not read "a@x"). Refused values are never cut short. */
static int subject_entry(X509 *x, int nid, char *buf, size_t len)
{
  X509_NAME *name = X509_get_subject_name(x);
  int i = X509_NAME_get_index_by_NID(name, nid, -1);
  ASN1_STRING const *s;
  unsigned char *utf8 = 0;
  int n, r = -1;
  buf[0] = 0;
  if (i < 0) return 0;
  s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  n = s ? ASN1_STRING_to_UTF8(&utf8, s) : -1;
  if (n < 0) return -1;
  if (!n) r = 0;
  else if ((size_t)n < len && !peerreport_unsafe_text(utf8, (size_t)n)) { memcpy(buf, utf8, (size_t)n); buf[n] = 0; r = 1; }
  OPENSSL_free(utf8);
  return r;
}

static int cert_email(X509 *x, char *buf, size_t len)
{
  GENERAL_NAMES *sans;
  int i, r = subject_entry(x, NID_pkcs9_emailAddress, buf, len), refused = r < 0;
  if (r > 0) return 1;
  sans = X509_get_ext_d2i(x, NID_subject_alt_name, 0, 0);
  if (!sans) return refused ? -1 : 0;
  for (i = 0; i < sk_GENERAL_NAME_num(sans) && !buf[0]; i++) {
    GENERAL_NAME const *gn = sk_GENERAL_NAME_value(sans, i);
    if (gn->type == GEN_EMAIL && copy_asn1_string(gn->d.rfc822Name, buf, len) < 0) refused = 1;
  }
  GENERAL_NAMES_free(sans);
  return buf[0] ? 1 : refused ? -1 : 0;
}

int peerreport_cert_email(X509 *x, char *buf, size_t len)
{
  return cert_email(x, buf, len) > 0;
}

/* An address literal is matched against iPAddress entries, as libtls does
   for a name that parses as an address; anything else as a host name. */
static int is_address(char const *name)
{
  unsigned char addr[16];
  return inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
}

/* Verify leaf + intermediates against store, for the purpose the peer's
   role needs (a client certificate must allow clientAuth, a server's
   serverAuth, as libtls requires when it verifies): result "SUCCESS" or
   "FAILED:why". */
static void verify_chain(X509_STORE *store, X509 *leaf, STACK_OF(X509) *chain, char const *name,
                         int purpose, char *out, size_t outlen)
{
  X509_STORE_CTX *vctx;
  int ok = 0;
  char const *why = "no trust store";
  if (store && (vctx = X509_STORE_CTX_new())) {
    if (X509_STORE_CTX_init(vctx, store, leaf, chain) == 1 && X509_STORE_CTX_set_purpose(vctx, purpose) == 1) {
      ok = X509_verify_cert(vctx) == 1;
      if (!ok) why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx));
    } else why = "unable to set up verification";
    X509_STORE_CTX_free(vctx);
  }
  if (ok && name) {
    if (is_address(name)) { if (X509_check_ip_asc(leaf, name, 0) != 1) { ok = 0; why = "IP address mismatch"; } }
    else if (X509_check_host(leaf, name, 0, 0, 0) != 1) { ok = 0; why = "hostname mismatch"; }
  }
  ERR_clear_error();
  if (ok) { strncpy(out, "SUCCESS", outlen - 1); out[outlen - 1] = 0; return; }
  strncpy(out, "FAILED:", outlen - 1);
  out[outlen - 1] = 0;
  strncat(out, why, outlen - strlen(out) - 1);
}

static int add_fmt_uint(stralloc *sa, char const *name, unsigned int u)
{
  char buf[16];
  size_t i = sizeof buf;
  buf[--i] = 0;
  do { buf[--i] = '0' + u % 10; u /= 10; } while (u && i);
  return env_addmodif(sa, name, buf + i);
}

static int add_or_unset(stralloc *sa, char const *name, char const *value)
{
  return env_addmodif(sa, name, value && *value ? value : 0);
}

/* Note a value the certificate holds but that is not exported. */
static int note_refused(stralloc *refused, char const *name)
{
  return (!refused->len || stralloc_catb(refused, ",", 1)) && stralloc_cats(refused, name);
}

int peerreport_env(stralloc *sa, struct tls *t, struct peerreport_args const *a)
{
  char const *const *role = a->peer_is_client ? peerreport_client_vars : peerreport_server_vars;
  char const *sni = tls_conn_servername(t);
  char const *hash = 0, *subject = 0;
  char verify[300] = "NONE", vend[64] = "";
  char s_dn[PEERREPORT_VALUE_MAX + 1] = "", i_dn[PEERREPORT_VALUE_MAX + 1] = "";
  char cn[PEERREPORT_VALUE_MAX + 1] = "", email[PEERREPORT_VALUE_MAX + 1] = "";
  stralloc refused = STRALLOC_ZERO;
  int strength = tls_conn_cipher_strength(t);
  int i, ok = 0;

  /* A client sends no SNI for an address literal, although libtls reports
     the name it was given. */
  if (sni && !valid_hostname(sni)) sni = 0;
  if (sni && !a->peer_is_client && is_address(sni)) sni = 0;
  if (!add_or_unset(sa, "SSL_PROTOCOL", tls_conn_version(t))) return 0;
  if (!add_or_unset(sa, "SSL_CIPHER", tls_conn_cipher(t))) return 0;
  if (strength > 0 ? !add_fmt_uint(sa, "SSL_CIPHER_USEKEYSIZE", (unsigned int)strength)
                   : !env_addmodif(sa, "SSL_CIPHER_USEKEYSIZE", 0)) return 0;
  if (!add_or_unset(sa, "SSL_TLS_SNI_SERVERNAME", sni)) return 0;
  if (!add_or_unset(sa, "SSL_TLS_SNI", sni)) return 0;
  if (!env_addmodif(sa, "SSL_SESSION_RESUMED", tls_conn_session_resumed(t) ? "Resumed" : "Initial")) return 0;

  if (tls_peer_cert_provided(t)) {
    size_t pemlen = 0;
    uint8_t const *pem = tls_peer_cert_chain_pem(t, &pemlen);
    BIO *bio = pem ? BIO_new_mem_buf(pem, (int)pemlen) : 0;
    X509 *leaf = bio ? PEM_read_bio_X509(bio, 0, 0, 0) : 0;
    hash = tls_peer_cert_hash(t);
    subject = tls_peer_cert_subject(t);
    if (leaf) {
      STACK_OF(X509) *chain = sk_X509_new_null();
      X509 *x;
      int bad = 0;
      while (chain && (x = PEM_read_bio_X509(bio, 0, 0, 0))) if (!sk_X509_push(chain, x)) { X509_free(x); break; }
      if (a->libtls_verified) strcpy(verify, "SUCCESS");
      else verify_chain(a->store, leaf, chain, a->expected_name,
                        a->peer_is_client ? X509_PURPOSE_SSL_CLIENT : X509_PURPOSE_SSL_SERVER, verify, sizeof verify);
      if (name_rfc2253(X509_get_subject_name(leaf), s_dn, sizeof s_dn) < 0 && !note_refused(&refused, role[V_S_DN])) bad = 1;
      if (name_rfc2253(X509_get_issuer_name(leaf), i_dn, sizeof i_dn) < 0 && !note_refused(&refused, role[V_I_DN])) bad = 1;
      if (subject_entry(leaf, NID_commonName, cn, sizeof cn) < 0 && !note_refused(&refused, role[V_S_DN_CN])) bad = 1;
      if (cert_email(leaf, email, sizeof email) < 0 && !note_refused(&refused, role[V_S_DN_EMAIL])) bad = 1;
      time_string(X509_get0_notAfter(leaf), vend, sizeof vend);
      sk_X509_pop_free(chain, X509_free);
      X509_free(leaf);
      if (bad) { BIO_free(bio); goto end; }
    } else strcpy(verify, "FAILED:unreadable peer certificate");
    BIO_free(bio);
    ERR_clear_error();
    /* libtls's one-line subject has its own escapes (\xHH) but no bound. */
    if (subject && strlen(subject) > PEERREPORT_VALUE_MAX) {
      subject = 0;
      if (!note_refused(&refused, "SSL_PEER_CERT_SUBJECT")) goto end;
    }
  }
  if (!env_addmodif(sa, role[V_VERIFY], verify)) goto end;
  if (!add_or_unset(sa, role[V_S_DN], s_dn)) goto end;
  if (!add_or_unset(sa, role[V_I_DN], i_dn)) goto end;
  if (!add_or_unset(sa, role[V_S_DN_CN], cn)) goto end;
  if (!add_or_unset(sa, role[V_S_DN_EMAIL], email)) goto end;
  if (!add_or_unset(sa, role[V_V_END], vend)) goto end;
  if (!add_or_unset(sa, role[V_CERT_HASH], hash)) goto end;
  if (!add_or_unset(sa, "SSL_PEER_CERT_HASH", hash)) goto end;
  if (!add_or_unset(sa, "SSL_PEER_CERT_SUBJECT", hash ? subject : 0)) goto end;
  if (refused.len && !stralloc_0(&refused)) goto end;
  if (!add_or_unset(sa, "SSL_PEER_CERT_REFUSED", refused.len ? refused.s : 0)) goto end;
  /* The other role's variables never describe this session. */
  role = a->peer_is_client ? peerreport_server_vars : peerreport_client_vars;
  for (i = 0; role[i]; i++) if (!env_addmodif(sa, role[i], 0)) goto end;
  ok = 1;
 end:
  stralloc_free(&refused);
  return ok;
}
