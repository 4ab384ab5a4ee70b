/* tlsconf: every setting of one engine, from the command line and the
   environment, and the libtls configuration built from it. */
#ifndef UCSPITLS_TLSCONF_H
#define UCSPITLS_TLSCONF_H

#include <sys/types.h>
#include <tls.h>
#include <openssl/x509_vfy.h>

enum clientcert_mode { CLIENTCERT_OFF = 0, CLIENTCERT_OPTIONAL = 1, CLIENTCERT_REQUIRED = 2 };

struct tlsconf {
  int is_server;
  int delayed;               /* -n: UCSPI-TLS */
  unsigned int verbosity;    /* 0 errors, 1 one line per session, 2 debug */
  char const *certfile, *keyfile, *cafile, *cadir, *crlfile;
  char const *ciphers, *protocols;
  char const *servername;    /* tlsclient: SNI and verified name */
  int insecure;              /* tlsclient -i */
  int clientcert;            /* tlsserver: enum clientcert_mode; -1 = not given */
  int close_notify;          /* 1: send close_notify on prog's EOF */
  unsigned int handshake_ms, idle_ms;
  char const *uid, *gid, *chrootdir;
  char const *ocspfile;      /* tlsserver: OCSP response to staple (DER) */
  char const *ticketkeyfile; /* tlsserver: session ticket keys shared by all engines */
};

/* Defaults for fields the command line left unset. */
extern void tlsconf_init(struct tlsconf *, int is_server);
/* Fill unset fields from the environment (CERTFILE, ...). */
extern void tlsconf_from_env(struct tlsconf *);

/* Build the libtls configuration: loads every file (so it must run before
   privileges are dropped) and dies with exit 96 and one line on any error.
   For tlsserver the context is also configured, which checks that every
   certificate matches its key. *report gets an X509 store used to compute
   SSL_*_VERIFY when libtls itself does not verify (NULL when it does). */
extern struct tls_config *tlsconf_build(struct tlsconf const *, struct tls **ctx, X509_STORE **report);

/* tlsserver: the ticket keys tlsconf_build loaded last (NULL: no key
   file), for every later tickets_configure (per-client contexts of -L). */
struct tickets;
extern struct tickets *tlsconf_tickets;

/* Parse a libtls protocol string ("tlsv1.2,tlsv1.3") into cfg. 0 ok, -1 not
   a valid list. */
extern int tlsconf_set_protocols(struct tls_config *, char const *list);

/* Trust store for verification reports, from a CA file or directory (the
   system store when both are NULL) and an optional CRL file; NULL on error. */
extern X509_STORE *tlsconf_report_store(char const *cafile, char const *cadir, char const *crlfile);

/* Exit code of a configuration refusal: 96, except where the caller needs
   another (tlsclient's late socket under qmail-rspawn, where anything but 0
   and 111 bounces the message: 111 defers it instead). */
extern int tlsconf_exit_config;

/* The system's hashed CA directory (OpenSSL's default, /etc/ssl/certs on
   Debian) when it exists and holds hash links, else NULL. */
extern char const *tlsconf_system_ca_dir(void);

/* Names of the variables that name files or privileges: removed from the
   application's environment. NULL-terminated. */
extern char const *const tlsconf_private_vars[];

#define TLSCONF_DEFAULT_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20"
#define TLSCONF_DEFAULT_PROTOCOLS "tlsv1.2,tlsv1.3"

#endif
