/* peerreport: the SSL_* environment describing one established session:
   protocol, cipher, SNI, and the peer certificate with a verification
   result computed with libcrypto when libtls did not verify it. */
#ifndef UCSPITLS_PEERREPORT_H
#define UCSPITLS_PEERREPORT_H

#include <tls.h>
#include <openssl/x509_vfy.h>
#include <skalibs/stralloc.h>

struct peerreport_args {
  int peer_is_client;        /* tlsserver: 1 (SSL_CLIENT_*); tlsclient: 0 (SSL_SERVER_*) */
  int libtls_verified;       /* libtls verified the chain (and name): SUCCESS without recomputing */
  X509_STORE *store;         /* else: verify against this store (may be NULL: FAILED) */
  char const *expected_name; /* tlsclient: name the certificate must carry, or NULL */
};

/* The longest value exported from a peer certificate (subject and issuer
   DNs, CN, e-mail, SSL_PEER_CERT_SUBJECT), in bytes. A longer value is
   refused, never cut: the variable is unset and its name is listed in
   SSL_PEER_CERT_REFUSED (comma-separated). Five such values and the
   fixed ones keep the Y reply under 8 KiB. */
#define PEERREPORT_VALUE_MAX 1024

/* Append every variable of the session to an environment block, and an
   unset entry for each known variable that does not apply, so nothing
   inherited can pose as a session fact. 1 ok, 0 no memory. */
extern int peerreport_env(stralloc *block, struct tls *, struct peerreport_args const *);

/* The e-mail address of a certificate: subject emailAddress, else the first
   subjectAltName rfc822Name. A value that does not fit in len-1 bytes or
   is unsafe text (peerreport_unsafe_text) is refused, never cut: 1 found,
   0 none. */
extern int peerreport_cert_email(X509 *, char *buf, size_t len);

/* 1 when n bytes at s must not be exported as a name: a control character
   (C0, DEL, C1), U+2028/U+2029, a Unicode Bidi_Control character, or
   bytes that are not well-formed UTF-8. 0 when they are safe text. */
extern int peerreport_unsafe_text(unsigned char const *s, size_t n);

/* Names peerreport_env may set, for a caller that must clear them all
   (delayed mode before TLS). NULL-terminated. */
extern char const *const peerreport_client_vars[];
extern char const *const peerreport_server_vars[];
extern char const *const peerreport_common_vars[];

#endif
