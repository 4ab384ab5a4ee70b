#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <skalibs/strerr.h>
#include "tlsconf.h"
#include "tickets.h"

extern char **environ;

int tlsconf_exit_config = 96;

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
  if (c->is_server && c->clientcert < 0)
    /* qmail-tls habit: a client CA file means "ask for certificates". */
    c->clientcert = (c->cafile || c->cadir) ? CLIENTCERT_OPTIONAL : CLIENTCERT_OFF;
}

/* Read access is checked here, before libtls, so that the refusal names the
   file and the system's reason ("Permission denied") in one line. */
static void check_readable(char const *what, char const *file)
{
  if (access(file, R_OK) < 0)
    strerr_dief6sys(tlsconf_exit_config, "unable to read ", what, " ", file, "", "");
}

static void die_config(struct tls_config *cfg, char const *what, char const *file)
{
  char const *e = tls_config_error(cfg);
  strerr_dief6x(tlsconf_exit_config, "unable to load ", what, " ", file, ": ", e ? e : "unknown error");
}

static void add_sni_keypairs(struct tls_config *cfg)
{
  char **e;
  for (e = environ; *e; e++) {
    char const *eq, *name, *keyfile;
    size_t namelen;
    char keyvar[300];
    if (strncmp(*e, "CERTFILE:", 9)) continue;
    eq = strchr(*e, '=');
    if (!eq || !eq[1]) continue;
    name = *e + 9;
    namelen = (size_t)(eq - name);
    if (!namelen || namelen > 255) strerr_dief2x(tlsconf_exit_config, "invalid SNI certificate variable: ", *e);
    memcpy(keyvar, "KEYFILE:", 8);
    memcpy(keyvar + 8, name, namelen);
    keyvar[8 + namelen] = 0;
    keyfile = env_nonempty(keyvar);
    if (!keyfile) keyfile = eq + 1;
    check_readable("certificate", eq + 1);
    check_readable("key", keyfile);
    if (tls_config_add_keypair_file(cfg, eq + 1, keyfile) < 0) die_config(cfg, "keypair", eq + 1);
  }
}

/* libtls staples whatever the file holds, and every client that asks for
   the status then fails: refuse a file that is not an OCSP response. */
static void check_ocsp_response(char const *file)
{
  BIO *bio = BIO_new_file(file, "rb");
  OCSP_RESPONSE *r = bio ? d2i_OCSP_RESPONSE_bio(bio, 0) : 0;
  BIO_free(bio);
  if (!r) { ERR_clear_error(); strerr_dief3x(tlsconf_exit_config, "unable to use OCSP response ", file, ": not a DER OCSP response"); }
  OCSP_RESPONSE_free(r);
}

/* The system trust store as a hashed directory, or NULL. Looking a CA up
   by hash reads one file; the bundle libtls would load otherwise is parsed
   whole (about 140 certificates) by every tlsclient, a third of its time. */
char const *tlsconf_system_ca_dir(void)
{
  static char const *dir = 0;
  static int done = 0;
  if (!done) {
    char const *d = X509_get_default_cert_dir();
    struct stat st;
    done = 1;
    /* Only a directory that holds hash links is a usable store. */
    if (d && stat(d, &st) == 0 && S_ISDIR(st.st_mode)) {
      DIR *dp = opendir(d);
      struct dirent *de;
      if (dp) {
        while ((de = readdir(dp))) {
          size_t n = strlen(de->d_name);
          if (n == 10 && de->d_name[8] == '.' && de->d_name[9] == '0') { dir = d; break; }
        }
        closedir(dp);
      }
    }
  }
  return dir;
}

X509_STORE *tlsconf_report_store(char const *cafile, char const *cadir, char const *crlfile)
{
  X509_STORE *store = X509_STORE_new();
  if (!store) return 0;
  if (cafile || cadir) {
    if (X509_STORE_load_locations(store, cafile, cadir) != 1) goto err;
  } else {
    char const *dir = tlsconf_system_ca_dir();
    char const *def = tls_default_ca_cert_file();
    if (dir) { if (X509_STORE_load_locations(store, 0, dir) != 1) goto err; }
    else if (def && access(def, R_OK) == 0) { if (X509_STORE_load_locations(store, def, 0) != 1) goto err; }
    else if (X509_STORE_set_default_paths(store) != 1) goto err;
  }
  if (crlfile) {
    X509_LOOKUP *lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
    if (!lookup || X509_load_crl_file(lookup, crlfile, X509_FILETYPE_PEM) <= 0) goto err;
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  }
  ERR_clear_error();
  return store;
 err:
  X509_STORE_free(store);
  ERR_clear_error();
  return 0;
}

struct tickets *tlsconf_tickets = 0;

/* The ticket key file (src/lib/tickets.h). The scope keeps a session made
   under one client certificate policy from resuming under another. */
static void load_ticket_keys(struct tlsconf const *c)
{
  char const *file = c->ticketkeyfile, *life = getenv("TLS_TICKETLIFETIME"), *why;
  unsigned int lifetime;
  char scope[2100];
  struct tickets *t;
  if (tickets_lifetime(life, &lifetime) < 0)
    strerr_dief2x(tlsconf_exit_config, "invalid TLS_TICKETLIFETIME (seconds, 1 to 604800): ", life);
  check_readable("ticket key file", file);
  snprintf(scope, sizeof scope, "clientcert=%d cafile=%s cadir=%s", c->clientcert,
           c->cafile ? c->cafile : "", c->cadir ? c->cadir : "");
  t = tickets_load(file, lifetime, scope, &why);
  if (!t) {
    if (errno) strerr_dief4sys(tlsconf_exit_config, why, " ticket key file ", file, "");
    strerr_dief4x(tlsconf_exit_config, "ticket key file ", file, ": ", why);
  }
  tickets_release(tlsconf_tickets);
  tlsconf_tickets = t;
}

int tlsconf_set_protocols(struct tls_config *cfg, char const *list)
{
  uint32_t protocols;
  if (tls_config_parse_protocols(&protocols, list) < 0) return -1;
  return tls_config_set_protocols(cfg, protocols);
}

struct tls_config *tlsconf_build(struct tlsconf const *c, struct tls **ctx, X509_STORE **report)
{
  struct tls_config *cfg;
  *report = 0;
  if (tls_init() < 0) strerr_dief1x(111, "unable to initialise libtls");
  cfg = tls_config_new();
  if (!cfg) strerr_dief1x(111, "unable to allocate libtls configuration");

  if (tlsconf_set_protocols(cfg, c->protocols) < 0)
    strerr_dief2x(tlsconf_exit_config, "invalid protocol list: ", c->protocols);
  if (tls_config_set_ciphers(cfg, c->ciphers) < 0)
    strerr_dief2x(tlsconf_exit_config, "invalid cipher list: ", c->ciphers);

  if (c->certfile) {
    check_readable("certificate", c->certfile);
    check_readable("key", c->keyfile);
    if (tls_config_set_keypair_file(cfg, c->certfile, c->keyfile) < 0)
      die_config(cfg, "keypair", c->certfile);
  }
  if (c->cafile) {
    check_readable("CA file", c->cafile);
    if (tls_config_set_ca_file(cfg, c->cafile) < 0) die_config(cfg, "CA file", c->cafile);
  }
  if (c->cadir) {
    if (access(c->cadir, R_OK | X_OK) < 0) strerr_dief3sys(tlsconf_exit_config, "unable to use CA directory ", c->cadir, "");
    if (tls_config_set_ca_path(cfg, c->cadir) < 0) die_config(cfg, "CA directory", c->cadir);
  }
  /* Dropping the uid but keeping root's group would leave the engine able
     to read group-0 files: both or neither. */
  if (c->uid && !c->gid) strerr_dief1x(100, "TLS_UID (-u) needs TLS_GID (-g) too");
  if (c->gid && !c->uid) strerr_dief1x(100, "TLS_GID (-g) needs TLS_UID (-u) too");
  if (c->crlfile) {
    check_readable("CRL file", c->crlfile);
    if (tls_config_set_crl_file(cfg, c->crlfile) < 0) die_config(cfg, "CRL file", c->crlfile);
  }

  if (c->is_server) {
    if (!c->certfile) strerr_dief1x(tlsconf_exit_config, "no certificate: set CERTFILE or use -c");
    add_sni_keypairs(cfg);
    if (c->ocspfile) {
      check_readable("OCSP response", c->ocspfile);
      check_ocsp_response(c->ocspfile);
      if (tls_config_set_ocsp_staple_file(cfg, c->ocspfile) < 0) die_config(cfg, "OCSP response", c->ocspfile);
    }
    if (c->ticketkeyfile) load_ticket_keys(c);
    tls_config_prefer_ciphers_server(cfg);
    if (c->clientcert == CLIENTCERT_REQUIRED) {
      if (!c->cafile && !c->cadir) strerr_dief1x(100, "-Y needs CAFILE or CADIR to verify client certificates");
      tls_config_verify_client(cfg);
    } else if (c->clientcert == CLIENTCERT_OPTIONAL) {
      /* libtls would fail the handshake on an unverifiable certificate; MTAs
         present self-signed ones routinely. Accept any, verify ourselves. */
      tls_config_verify_client_optional(cfg);
      tls_config_insecure_noverifycert(cfg);
      *report = tlsconf_report_store(c->cafile, c->cadir, c->crlfile);
      if (!*report) strerr_dief1x(tlsconf_exit_config, "unable to load the client CA or CRL file for verification reports");
    }
    *ctx = tls_server();
    if (!*ctx) strerr_dief1x(111, "unable to allocate a TLS context");
    {
      char const *e;
      if (tickets_configure(*ctx, cfg, tlsconf_tickets, &e) < 0)
        strerr_dief2x(tlsconf_exit_config, "unable to use certificate and key: ", e);
    }
  } else {
    if (c->insecure) {
      tls_config_insecure_noverifycert(cfg);
      tls_config_insecure_noverifyname(cfg);
    }
    /* The client context is configured per session (the late socket can
       bring its own trust file); see engine_client_configure. */
    *ctx = 0;
  }
  return cfg;
}
