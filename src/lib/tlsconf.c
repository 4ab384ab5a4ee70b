#include <stdlib.h>
#include <string.h>
#include "tlsconf.h"

char const *const tlsconf_private_vars[] = {
  "CERTFILE", "KEYFILE", "CAFILE", "CADIR", "CRLFILE",
  "TLS_UID", "TLS_GID", "TLS_CHROOT", "TLS_TICKETKEYFILE", "TLS_OCSPFILE", "TLS_SESSIONCACHE", 0
};

void tlsconf_init(struct tlsconf *c, int is_server)
{
  memset(c, 0, sizeof *c);
  c->is_server = is_server;
  c->verbosity = 1;
  c->clientcert = -1;
  c->close_notify = 1;
  c->handshake_ms = 60000;
  c->idle_ms = 1200000;
}

static char const *env_nonempty(char const *name)
{
  char const *s = getenv(name);
  return s && *s ? s : 0;
}

void tlsconf_from_env(struct tlsconf *c)
{
  if (!c->certfile) c->certfile = env_nonempty("CERTFILE");
  if (!c->keyfile) c->keyfile = env_nonempty("KEYFILE");
  /* A qmail-tls servercert.pem holds chain and key: one file serves both. */
  if (!c->keyfile) c->keyfile = c->certfile;
  if (!c->cafile) c->cafile = env_nonempty("CAFILE");
  if (!c->cadir) c->cadir = env_nonempty("CADIR");
  if (!c->crlfile) c->crlfile = env_nonempty("CRLFILE");
  if (!c->ciphers) c->ciphers = env_nonempty("TLSCIPHERS");
  if (!c->ciphers) c->ciphers = TLSCONF_DEFAULT_CIPHERS;
  if (!c->protocols) c->protocols = env_nonempty("TLSPROTOCOLS");
  if (!c->protocols) c->protocols = TLSCONF_DEFAULT_PROTOCOLS;
  if (!c->servername) c->servername = env_nonempty("TLS_SERVERNAME");
  if (!c->uid) c->uid = env_nonempty("TLS_UID");
  if (!c->gid) c->gid = env_nonempty("TLS_GID");
  if (!c->chrootdir) c->chrootdir = env_nonempty("TLS_CHROOT");
  if (!c->ocspfile) c->ocspfile = env_nonempty("TLS_OCSPFILE");
  if (!c->ticketkeyfile) c->ticketkeyfile = env_nonempty("TLS_TICKETKEYFILE");
  if (!c->ticketlifetime) c->ticketlifetime = env_nonempty("TLS_TICKETLIFETIME");
  if (!c->sessioncache) c->sessioncache = env_nonempty("TLS_SESSIONCACHE");
  if (!c->strict && env_nonempty("TLS_STRICT")) c->strict = 1;
  if (c->is_server && c->clientcert < 0)
    /* qmail-tls habit: a client CA file means "ask for certificates". */
    c->clientcert = (c->cafile || c->cadir) ? CLIENTCERT_OPTIONAL : CLIENTCERT_OFF;
}
