/* tlsctx: the libtls objects built from the settings (struct tlsconf), for
   tlsserver, tlsclient and the listener alike. All of the TLS
   configuration is here: files, ciphers, protocols, client certificates,
   OCSP, tickets, the trust store of verification reports, a late socket's
   trust anchors, the listener's per-client settings. Every function returns
   an error and a reason; none exits. */
#ifndef UCSPITLS_TLSCTX_H
#define UCSPITLS_TLSCTX_H

#include <tls.h>
#include <openssl/x509_vfy.h>
#include <skalibs/stralloc.h>
#include "tlsconf.h"
#include "reason.h"

struct tlsctx {
  struct tls_config *cfg;
  struct tls *ctx;           /* server: the configured context; client: made per session */
  X509_STORE *report;        /* store for SSL_*_VERIFY when libtls does not verify, or NULL */
  int libtls_verifies;       /* libtls itself verifies the peer (then the report says SUCCESS) */
  struct reason warning;     /* loaded, but worth a warning line (a certificate out of its validity period) */
  struct tickets *tickets;   /* tlsserver: the ticket keys (NULL: no key file, no tickets) */
  stralloc anchors;          /* under TLS_CHROOT: every trust anchor, read before the chroot (PEM) */
};

#define TLSCTX_ZERO { 0, 0, 0, 0, { 0, "" }, 0, STRALLOC_ZERO }

/* Load every file and setting (before privileges are dropped). A server
   context is also configured, which checks every certificate against its
   key. 0 ok, -1 refused (r: code 96 for the configuration, 111 for a
   system failure). */
extern int tlsctx_load(struct tlsctx *, struct tlsconf const *, struct reason *r);

/* tlsclient: make the session's context, once the name and the trust
   anchors are known (a late socket brings its own CA file, and may ask not
   to verify). 0 ok, -1 (r). */
extern int tlsctx_client_ready(struct tlsctx *, struct tlsconf const *, char const *cafile, int verify, struct reason *r);

/* tlsserver -L: per-client TLSCIPHERS / TLSPROTOCOLS (from the rules)
   where the command line set none; needs no file, the keys are in memory.
   0 ok (unchanged or reconfigured), -1 (r). */
extern int tlsctx_per_client(struct tlsctx *, struct tlsconf const *conf, struct tlsconf const *options_only, struct reason *r);

/* The keys' PEM text, once the context holds the keys as OpenSSL needs
   them (a server at once; a client after its handshake). */
extern void tlsctx_clear_keys(struct tlsctx *);
extern void tlsctx_free(struct tlsctx *);

/* Subject (RFC 2253) and notAfter of the first certificate of a PEM file,
   for the log. 0 ok, -1 unreadable. */
extern int tlsctx_cert_info(char const *file, char *subject, size_t sublen, char *notafter, size_t nalen);

/* The system's hashed CA directory (OpenSSL's default, /etc/ssl/certs on
   Debian) when it exists and holds hash links, else NULL. */
extern char const *tlsctx_system_ca_dir(void);

/* Trust store for verification reports, from a CA file or directory (the
   system store when both are NULL) and an optional CRL file; NULL on error. */
extern X509_STORE *tlsctx_report_store(char const *cafile, char const *cadir, char const *crlfile);

#endif
