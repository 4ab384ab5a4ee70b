#include <string.h>
#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "envblock.h"
#include "peerreport.h"

char const *const peerreport_common_vars[] = {
  "SSL_PROTOCOL", "SSL_CIPHER", "SSL_CIPHER_USEKEYSIZE", "SSL_TLS_SNI_SERVERNAME", "SSL_TLS_SNI",
  "SSL_SESSION_RESUMED", "SSL_PEER_CERT_HASH", "SSL_PEER_CERT_SUBJECT", 0
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

static int bio_to_string(BIO *bio, char *buf, size_t len)
{
  int n = BIO_read(bio, buf, (int)len - 1);
  if (n < 0) n = 0;
  buf[n] = 0;
  return n > 0;
}

static int name_rfc2253(X509_NAME *name, char *buf, size_t len)
{
  BIO *bio = BIO_new(BIO_s_mem());
  int ok = 0;
  if (!bio) return 0;
  if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) ok = bio_to_string(bio, buf, len);
  BIO_free(bio);
  return ok;
}

static int time_string(ASN1_TIME const *t, char *buf, size_t len)
{
  BIO *bio = BIO_new(BIO_s_mem());
  int ok = 0;
  if (!bio) return 0;
  if (ASN1_TIME_print(bio, t) == 1) ok = bio_to_string(bio, buf, len);
  BIO_free(bio);
  return ok;
}

/* NUL, newline and other control bytes: a value holding one is refused, so
   that nothing downstream (a log line, a tlsclients lookup) can be fooled. */
static int has_control(unsigned char const *s, size_t n)
{
  size_t i;
  for (i = 0; i < n; i++) if (s[i] < 0x20 || s[i] == 0x7f) return 1;
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

static void copy_asn1_string(ASN1_STRING const *s, char *buf, size_t len)
{
  size_t n = (size_t)ASN1_STRING_length(s);
  if (n >= len || has_control(ASN1_STRING_get0_data(s), n)) { buf[0] = 0; return; }   /* refused, never cut */
  memcpy(buf, ASN1_STRING_get0_data(s), n);
  buf[n] = 0;
}

/* The first subject entry of this type. An entry with an embedded NUL is
   refused (empty), never cut short: "a@x\0@evil" must not read "a@x". */
static int subject_entry(X509 *x, int nid, char *buf, size_t len)
{
  X509_NAME *name = X509_get_subject_name(x);
  int i = X509_NAME_get_index_by_NID(name, nid, -1);
  ASN1_STRING const *s;
  unsigned char *utf8 = 0;
  int n;
  buf[0] = 0;
  if (i < 0) return 0;
  s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  n = s ? ASN1_STRING_to_UTF8(&utf8, s) : -1;
  if (n < 0) return 0;
  if ((size_t)n < len && !has_control(utf8, (size_t)n)) { memcpy(buf, utf8, (size_t)n); buf[n] = 0; }
  OPENSSL_free(utf8);
  return buf[0] != 0;
}

int peerreport_cert_email(X509 *x, char *buf, size_t len)
{
  GENERAL_NAMES *sans;
  int i;
  if (subject_entry(x, NID_pkcs9_emailAddress, buf, len)) return 1;
  sans = X509_get_ext_d2i(x, NID_subject_alt_name, 0, 0);
  if (!sans) return 0;
  for (i = 0; i < sk_GENERAL_NAME_num(sans) && !buf[0]; i++) {
    GENERAL_NAME const *gn = sk_GENERAL_NAME_value(sans, i);
    if (gn->type == GEN_EMAIL) copy_asn1_string(gn->d.rfc822Name, buf, len);
  }
  GENERAL_NAMES_free(sans);
  return buf[0] != 0;
}

/* Verify leaf + intermediates against store; result "SUCCESS" or "FAILED:why". */
static void verify_chain(X509_STORE *store, X509 *leaf, STACK_OF(X509) *chain, char const *name,
                         char *out, size_t outlen)
{
  X509_STORE_CTX *vctx;
  int ok = 0;
  char const *why = "no trust store";
  if (store && (vctx = X509_STORE_CTX_new())) {
    if (X509_STORE_CTX_init(vctx, store, leaf, chain) == 1) {
      ok = X509_verify_cert(vctx) == 1;
      if (!ok) why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx));
    } else why = "unable to set up verification";
    X509_STORE_CTX_free(vctx);
  }
  if (ok && name && X509_check_host(leaf, name, 0, 0, 0) != 1) { ok = 0; why = "hostname mismatch"; }
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
  return envblock_add(sa, name, buf + i);
}

static int add_or_unset(stralloc *sa, char const *name, char const *value)
{
  return envblock_add(sa, name, value && *value ? value : 0);
}

int peerreport_env(stralloc *sa, struct tls *t, struct peerreport_args const *a)
{
  char const *const *role = a->peer_is_client ? peerreport_client_vars : peerreport_server_vars;
  char const *sni = tls_conn_servername(t);
  char const *hash = 0;
  char verify[300] = "NONE", s_dn[1024] = "", i_dn[1024] = "", cn[256] = "", email[256] = "", vend[64] = "";
  int strength = tls_conn_cipher_strength(t);
  int i;

  /* A client sends no SNI for an address literal, although libtls reports
     the name it was given. */
  if (sni && !valid_hostname(sni)) sni = 0;
  if (sni && !a->peer_is_client) {
    unsigned char addr[16];
    if (inet_pton(AF_INET, sni, addr) == 1 || inet_pton(AF_INET6, sni, addr) == 1) sni = 0;
  }
  if (!add_or_unset(sa, "SSL_PROTOCOL", tls_conn_version(t))) return 0;
  if (!add_or_unset(sa, "SSL_CIPHER", tls_conn_cipher(t))) return 0;
  if (strength > 0 ? !add_fmt_uint(sa, "SSL_CIPHER_USEKEYSIZE", (unsigned int)strength)
                   : !envblock_add(sa, "SSL_CIPHER_USEKEYSIZE", 0)) return 0;
  if (!add_or_unset(sa, "SSL_TLS_SNI_SERVERNAME", sni)) return 0;
  if (!add_or_unset(sa, "SSL_TLS_SNI", sni)) return 0;
  if (!envblock_add(sa, "SSL_SESSION_RESUMED", tls_conn_session_resumed(t) ? "Resumed" : "Initial")) return 0;

  if (tls_peer_cert_provided(t)) {
    size_t pemlen = 0;
    uint8_t const *pem = tls_peer_cert_chain_pem(t, &pemlen);
    BIO *bio = pem ? BIO_new_mem_buf(pem, (int)pemlen) : 0;
    X509 *leaf = bio ? PEM_read_bio_X509(bio, 0, 0, 0) : 0;
    hash = tls_peer_cert_hash(t);
    if (leaf) {
      STACK_OF(X509) *chain = sk_X509_new_null();
      X509 *x;
      while (chain && (x = PEM_read_bio_X509(bio, 0, 0, 0))) if (!sk_X509_push(chain, x)) { X509_free(x); break; }
      if (a->libtls_verified) strcpy(verify, "SUCCESS");
      else verify_chain(a->store, leaf, chain, a->expected_name, verify, sizeof verify);
      name_rfc2253(X509_get_subject_name(leaf), s_dn, sizeof s_dn);
      name_rfc2253(X509_get_issuer_name(leaf), i_dn, sizeof i_dn);
      subject_entry(leaf, NID_commonName, cn, sizeof cn);
      peerreport_cert_email(leaf, email, sizeof email);
      time_string(X509_get0_notAfter(leaf), vend, sizeof vend);
      sk_X509_pop_free(chain, X509_free);
      X509_free(leaf);
    } else strcpy(verify, "FAILED:unreadable peer certificate");
    BIO_free(bio);
    ERR_clear_error();
  }
  if (!envblock_add(sa, role[V_VERIFY], verify)) return 0;
  if (!add_or_unset(sa, role[V_S_DN], s_dn)) return 0;
  if (!add_or_unset(sa, role[V_I_DN], i_dn)) return 0;
  if (!add_or_unset(sa, role[V_S_DN_CN], cn)) return 0;
  if (!add_or_unset(sa, role[V_S_DN_EMAIL], email)) return 0;
  if (!add_or_unset(sa, role[V_V_END], vend)) return 0;
  if (!add_or_unset(sa, role[V_CERT_HASH], hash)) return 0;
  if (!add_or_unset(sa, "SSL_PEER_CERT_HASH", hash)) return 0;
  if (!add_or_unset(sa, "SSL_PEER_CERT_SUBJECT", hash ? tls_peer_cert_subject(t) : 0)) return 0;
  /* The other role's variables never describe this session. */
  role = a->peer_is_client ? peerreport_server_vars : peerreport_client_vars;
  for (i = 0; role[i]; i++) if (!envblock_add(sa, role[i], 0)) return 0;
  return 1;
}
