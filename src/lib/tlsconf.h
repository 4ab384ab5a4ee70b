/* tlsconf: every setting of one engine, from the command line and the
   environment. Settings only: src/engine/tlsctx.c turns them into libtls
   objects. */
#ifndef UCSPITLS_TLSCONF_H
#define UCSPITLS_TLSCONF_H

enum clientcert_mode { CLIENTCERT_OFF = 0, CLIENTCERT_OPTIONAL = 1, CLIENTCERT_REQUIRED = 2 };

struct tlsconf {
  int is_server;
  int delayed;               /* -n: UCSPI-TLS */
  int strict;                /* -F, TLS_STRICT: delayed mode refuses instead of going on without TLS */
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
  char const *ticketlifetime;/* TLS_TICKETLIFETIME: seconds (src/lib/tickets.h) */
  char const *sessioncache;  /* tlsclient: TLS_SESSIONCACHE, the session cache directory */
};

/* Defaults for fields the command line left unset. */
extern void tlsconf_init(struct tlsconf *, int is_server);
/* Fill unset fields from the environment (CERTFILE, ...). */
extern void tlsconf_from_env(struct tlsconf *);

/* Names of the variables that name files or privileges: removed from the
   application's environment. NULL-terminated. */
extern char const *const tlsconf_private_vars[];

#define TLSCONF_DEFAULT_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20"
#define TLSCONF_DEFAULT_PROTOCOLS "tlsv1.2,tlsv1.3"

#endif
