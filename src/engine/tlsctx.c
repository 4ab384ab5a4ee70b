#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <skalibs/stralloc.h>
#include <skalibs/djbunix.h>
#include "exitcodes.h"
#include "pemfile.h"
#include "tickets.h"
#include "tlsctx.h"

extern char **environ;

/* libtls's own messages name the file and the system's reason ("failed to
   open certificate file '/x': Permission denied"): this adds which setting
   it was. */
static int refuse_tls(struct reason *r, struct tls_config *cfg, char const *what, char const *file)
{
  reason_tls(r, EXIT_CONFIG, what, file, tls_config_error(cfg));
  return -1;
}

/* The chain and its key, read safely once (a FIFO cannot block, only a
   regular file is read), split so that the key never travels as part of
   the "certificate", handed to libtls as memory, our copies wiped. A
   certificate out of its validity period is still served (the peer
   decides), but said in t->warning. */
static int load_keypair(struct tlsctx *t, int add, char const *certfile, char const *keyfile, struct reason *r)
{
  struct pemfile_error pe;
  struct pemfile_validity v;
  if (pemfile_tls_keypair(t->cfg, add, certfile, keyfile, &v, &pe) < 0) {
    reason_set(r, pe.code == PEMFILE_ENOMEM ? EXIT_TEMP : EXIT_CONFIG, pe.msg, 0, 0, 0);
    return -1;
  }
  if (v.state == PEMFILE_EXPIRED && !t->warning.text[0])
    reason_set(&t->warning, 0, "certificate ", certfile, " expired on ", v.notafter);
  else if (v.state == PEMFILE_NOT_YET_VALID && !t->warning.text[0])
    reason_set(&t->warning, 0, "certificate ", certfile, " is not valid before ", v.notbefore);
  return 0;
}

/* A file libtls would read by name, read by us instead (no FIFO can
   block, nothing but a regular file), for tls_config_set_*_mem. */
static int slurp_file(char const *what, char const *file, stralloc *sa, struct reason *r)
{
  struct pemfile_error pe;
  if (pemfile_read(what, file, PEMFILE_MAX, sa, &pe) < 0) {
    reason_set(r, pe.code == PEMFILE_ENOMEM ? EXIT_TEMP : EXIT_CONFIG, pe.msg, 0, 0, 0);
    return -1;
  }
  return 0;
}

static int load_mem(struct tls_config *cfg, int (*set)(struct tls_config *, uint8_t const *, size_t),
                    char const *what, char const *file, struct reason *r)
{
  stralloc sa = STRALLOC_ZERO;
  int ret = slurp_file(what, file, &sa, r);
  if (!ret && (*set)(cfg, (uint8_t const *)sa.s, sa.len) < 0) {
    reason_tls(r, EXIT_CONFIG, "unable to load", file, tls_config_error(cfg));
    ret = -1;
  }
  stralloc_free(&sa);
  return ret;
}

static int add_sni_keypairs(struct tlsctx *t, struct reason *r)
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
    if (!namelen || namelen > 255) { reason_set(r, EXIT_CONFIG, "invalid SNI certificate variable: ", *e, 0, 0); return -1; }
    memcpy(keyvar, "KEYFILE:", 8);
    memcpy(keyvar + 8, name, namelen);
    keyvar[8 + namelen] = 0;
    keyfile = getenv(keyvar);
    if (!keyfile || !*keyfile) keyfile = eq + 1;
    if (load_keypair(t, 1, eq + 1, keyfile, r) < 0) return -1;
  }
  return 0;
}

/* libtls staples whatever the file holds, and every client that asks for
   the status then fails: refuse a file that is not an OCSP response. */
static int load_ocsp_response(struct tls_config *cfg, char const *file, struct reason *r)
{
  stralloc sa = STRALLOC_ZERO;
  unsigned char const *p;
  OCSP_RESPONSE *resp;
  int ret = -1;
  if (slurp_file("OCSP response", file, &sa, r) < 0) return -1;
  p = (unsigned char const *)sa.s;
  resp = d2i_OCSP_RESPONSE(0, &p, (long)sa.len);
  ERR_clear_error();
  if (!resp) reason_set(r, EXIT_CONFIG, "unable to use OCSP response ", file, ": not a DER OCSP response", 0);
  else if (tls_config_set_ocsp_staple_mem(cfg, (uint8_t const *)sa.s, sa.len) < 0) refuse_tls(r, cfg, "unable to load OCSP response", file);
  else ret = 0;
  OCSP_RESPONSE_free(resp);
  stralloc_free(&sa);
  return ret;
}

char const *tlsctx_system_ca_dir(void)
{
  static char const *dir = 0;
  static int done = 0;
  if (!done) {
    char const *d = X509_get_default_cert_dir();
    DIR *dp = d ? opendir(d) : 0;
    done = 1;
    /* Looking a CA up by hash reads one file; the bundle libtls would load
       otherwise is parsed whole (about 140 certificates) by every
       tlsclient, a third of its time. Only a directory that holds hash
       links is a usable store. */
    if (dp) {
      struct dirent *de;
      while ((de = readdir(dp))) {
        size_t n = strlen(de->d_name);
        if (n == 10 && de->d_name[8] == '.' && de->d_name[9] == '0') { dir = d; break; }
      }
      closedir(dp);
    }
  }
  return dir;
}

X509_STORE *tlsctx_report_store(char const *cafile, char const *cadir, char const *crlfile)
{
  X509_STORE *store = X509_STORE_new();
  if (!store) return 0;
  if (cafile || cadir) {
    if (X509_STORE_load_locations(store, cafile, cadir) != 1) goto err;
  } else {
    char const *dir = tlsctx_system_ca_dir();
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

/* Under TLS_CHROOT nothing outside the chroot can be read once the engine
   is in it, and a hashed CA directory (CADIR, the system store) is read
   lazily, certificate by certificate, while verifying. So every trust
   anchor is read now, into one PEM text: the CA file, every file of the
   CA directory, or, for a client with neither, the system bundle. */
static int anchors_add_file(stralloc *anchors, char const *what, char const *file, int quiet, struct reason *r)
{
  stralloc sa = STRALLOC_ZERO, keys = STRALLOC_ZERO;
  int enc = 0, ret = 0;
  if (slurp_file(what, file, &sa, r) < 0) return quiet ? 0 : -1;
  if (pemfile_split(sa.s, sa.len, anchors, &keys, &enc) < 0 && !quiet) {
    reason_set(r, EXIT_CONFIG, what, " ", file, " holds no PEM certificate");
    ret = -1;
  }
  pemfile_wipe(&keys);
  stralloc_free(&sa);
  return ret;
}

static int anchors_load(struct tlsctx *t, struct tlsconf const *c, struct reason *r)
{
  if (c->cafile && anchors_add_file(&t->anchors, "CA file", c->cafile, 0, r) < 0) return -1;
  if (c->cadir) {
    DIR *dp = opendir(c->cadir);
    struct dirent *de;
    stralloc path = STRALLOC_ZERO;
    if (!dp) { reason_sys(r, EXIT_CONFIG, "unable to use CA directory ", c->cadir, 0); return -1; }
    while ((de = readdir(dp))) {
      struct stat st;
      if (de->d_name[0] == '.') continue;
      path.len = 0;
      if (!stralloc_cats(&path, c->cadir) || !stralloc_catb(&path, "/", 1) || !stralloc_cats(&path, de->d_name) || !stralloc_0(&path)) {
        closedir(dp); stralloc_free(&path); reason_set(r, EXIT_TEMP, "out of memory", 0, 0, 0); return -1;
      }
      /* hash links name the same files: reading both only repeats them */
      if (lstat(path.s, &st) < 0 || !S_ISREG(st.st_mode)) continue;
      anchors_add_file(&t->anchors, "CA directory file", path.s, 1, r);
    }
    closedir(dp);
    stralloc_free(&path);
    if (!t->anchors.len) { reason_set(r, EXIT_CONFIG, "CA directory ", c->cadir, " holds no certificate", 0); return -1; }
  }
  if (!c->is_server && !c->cafile && !c->cadir) {
    char const *bundle = tls_default_ca_cert_file();
    if (bundle && anchors_add_file(&t->anchors, "system CA bundle", bundle, 0, r) < 0) return -1;
  }
  return 0;
}

/* The same anchors as a verification store for reports. */
static X509_STORE *store_from_anchors(stralloc const *anchors, char const *crlfile)
{
  X509_STORE *store = X509_STORE_new();
  BIO *bio = store ? BIO_new_mem_buf(anchors->s, (int)anchors->len) : 0;
  STACK_OF(X509_INFO) *infos = bio ? PEM_X509_INFO_read_bio(bio, 0, 0, 0) : 0;
  int i, n = 0;
  for (i = 0; infos && i < sk_X509_INFO_num(infos); i++) {
    X509_INFO *xi = sk_X509_INFO_value(infos, i);
    if (xi->x509 && X509_STORE_add_cert(store, xi->x509) == 1) n++;
  }
  sk_X509_INFO_pop_free(infos, X509_INFO_free);
  BIO_free(bio);
  if (store && crlfile) {
    X509_LOOKUP *lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
    if (!lookup || X509_load_crl_file(lookup, crlfile, X509_FILETYPE_PEM) <= 0) n = 0;
    else X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  }
  ERR_clear_error();
  if (!n) { X509_STORE_free(store); return 0; }
  return store;
}

/* The ticket key file (src/lib/tickets.h). The scope keeps a session made
   under one client certificate policy from resuming under another. */
static int load_ticket_keys(struct tlsctx *t, struct tlsconf const *c, struct reason *r)
{
  char const *why;
  unsigned int lifetime;
  stralloc scope = STRALLOC_ZERO;
  char mode[2] = { (char)('0' + (c->clientcert < 0 ? 0 : c->clientcert)), 0 };
  if (tickets_lifetime(c->ticketlifetime, &lifetime) < 0) {
    reason_set(r, EXIT_CONFIG, "invalid TLS_TICKETLIFETIME (seconds, 1 to 604800): ", c->ticketlifetime, 0, 0);
    return -1;
  }
  if (!stralloc_cats(&scope, "clientcert=") || !stralloc_cats(&scope, mode)
      || !stralloc_cats(&scope, " cafile=") || !stralloc_cats(&scope, c->cafile ? c->cafile : "")
      || !stralloc_cats(&scope, " cadir=") || !stralloc_cats(&scope, c->cadir ? c->cadir : "") || !stralloc_0(&scope)) {
    reason_set(r, EXIT_TEMP, "out of memory", 0, 0, 0);
    stralloc_free(&scope);
    return -1;
  }
  errno = 0;
  t->tickets = tickets_load(c->ticketkeyfile, lifetime, scope.s, &why);
  stralloc_free(&scope);
  if (t->tickets) return 0;
  if (errno) reason_sys(r, EXIT_CONFIG, why, " ticket key file ", c->ticketkeyfile);
  else reason_set(r, EXIT_CONFIG, "ticket key file ", c->ticketkeyfile, ": ", why);
  return -1;
}

static int set_protocols(struct tls_config *cfg, char const *list)
{
  uint32_t protocols;
  if (tls_config_parse_protocols(&protocols, list) < 0) return -1;
  return tls_config_set_protocols(cfg, protocols);
}

/* A server context, configured with the tickets (or none). */
static int server_configure(struct tlsctx *t, struct tlsconf const *c, char const *what, struct reason *r)
{
  char const *why;
  t->ctx = tls_server();
  if (!t->ctx) { reason_set(r, EXIT_TEMP, "unable to allocate a TLS context", 0, 0, 0); return -1; }
  if (tickets_configure(t->ctx, t->cfg, t->tickets, &why) < 0) {
    struct pemfile_keypair kp = PEMFILE_KEYPAIR_ZERO;
    struct pemfile_error pe;
    /* libtls's words ("failed to load private key") do not say which
       file or what: the thorough check does (a mismatched key, an
       unreadable block). */
    if (c->certfile && pemfile_keypair(c->certfile, c->keyfile, &kp, &pe) < 0) reason_set(r, EXIT_CONFIG, pe.msg, 0, 0, 0);
    else reason_tls(r, EXIT_CONFIG, what, 0, why);
    pemfile_keypair_free(&kp);
    return -1;
  }
  return 0;
}

static int load_server(struct tlsctx *t, struct tlsconf const *c, struct reason *r)
{
  struct tls_config *cfg = t->cfg;
  if (!c->certfile) { reason_set(r, EXIT_CONFIG, "no certificate: set CERTFILE or use -c", 0, 0, 0); return -1; }
  if (add_sni_keypairs(t, r) < 0) return -1;
  if (c->ocspfile && load_ocsp_response(cfg, c->ocspfile, r) < 0) return -1;
  /* Without a key file, no tickets at all: one could only come back to
     this very process, which is gone after the connection. */
  if (c->ticketkeyfile && load_ticket_keys(t, c, r) < 0) return -1;
  tls_config_prefer_ciphers_server(cfg);
  if (c->clientcert == CLIENTCERT_REQUIRED) {
    tls_config_verify_client(cfg);
    t->libtls_verifies = 1;
  } else if (c->clientcert == CLIENTCERT_OPTIONAL) {
    /* libtls would fail the handshake on an unverifiable certificate; MTAs
       present self-signed ones routinely. Accept any, verify ourselves. */
    tls_config_verify_client_optional(cfg);
    tls_config_insecure_noverifycert(cfg);
    t->report = t->anchors.len ? store_from_anchors(&t->anchors, c->crlfile) : tlsctx_report_store(c->cafile, c->cadir, c->crlfile);
    if (!t->report) {
      reason_set(r, EXIT_CONFIG, "unable to load the client CA ", c->cafile ? c->cafile : c->cadir,
                 c->crlfile ? " or the CRL file " : " for verification reports", c->crlfile);
      return -1;
    }
  }
  return server_configure(t, c, "unable to use certificate and key", r);
}

int tlsctx_load(struct tlsctx *t, struct tlsconf const *c, struct reason *r)
{
  struct tls_config *cfg;
  memset(t, 0, sizeof *t);
#if !defined(LIBRESSL_VERSION_NUMBER) && OPENSSL_VERSION_NUMBER >= 0x10100000L
  /* OpenSSL: the legacy cipher table is of no use to libtls, and filling
     it costs every engine 0.15-0.3 ms (doc/performance.md). The digest
     table stays: certificate verification looks digests up by name ("ca
     md too weak" without it). Once done, tls_init's own call adds none. */
  OPENSSL_init_ssl(OPENSSL_INIT_NO_ADD_ALL_CIPHERS, 0);
#endif
  if (tls_init() < 0) { reason_set(r, EXIT_TEMP, "unable to initialise libtls", 0, 0, 0); return -1; }
  cfg = t->cfg = tls_config_new();
  if (!cfg) { reason_set(r, EXIT_TEMP, "unable to allocate a libtls configuration", 0, 0, 0); return -1; }
  if (set_protocols(cfg, c->protocols) < 0) { reason_set(r, EXIT_CONFIG, "invalid protocol list: ", c->protocols, 0, 0); goto err; }
  if (tls_config_set_ciphers(cfg, c->ciphers) < 0) { reason_set(r, EXIT_CONFIG, "invalid cipher list: ", c->ciphers, 0, 0); goto err; }
  if (c->certfile && load_keypair(t, 0, c->certfile, c->keyfile, r) < 0) goto err;
  if (c->chrootdir) {
    if (anchors_load(t, c, r) < 0) goto err;
    if (t->anchors.len && tls_config_set_ca_mem(cfg, (uint8_t const *)t->anchors.s, t->anchors.len) < 0) {
      refuse_tls(r, cfg, "unable to load the trust anchors", 0);
      goto err;
    }
  } else if (c->cafile && load_mem(cfg, &tls_config_set_ca_mem, "CA file", c->cafile, r) < 0) goto err;
  if (c->cadir && !c->chrootdir) {
    if (access(c->cadir, R_OK | X_OK) < 0) { reason_sys(r, EXIT_CONFIG, "unable to use CA directory ", c->cadir, 0); goto err; }
    if (tls_config_set_ca_path(cfg, c->cadir) < 0) { refuse_tls(r, cfg, "unable to use CA directory", c->cadir); goto err; }
  }
  if (c->crlfile && load_mem(cfg, &tls_config_set_crl_mem, "CRL file", c->crlfile, r) < 0) goto err;
  if (c->is_server) { if (load_server(t, c, r) < 0) goto err; }
  else if (c->insecure) {
    tls_config_insecure_noverifycert(cfg);
    tls_config_insecure_noverifyname(cfg);
  }
  return 0;
 err:
  tlsctx_free(t);
  return -1;
}

int tlsctx_client_ready(struct tlsctx *t, struct tlsconf const *c, char const *cafile, int verify, struct reason *r)
{
  verify = verify && !c->insecure;
  if (cafile && tls_config_set_ca_file(t->cfg, cafile) < 0) return refuse_tls(r, t->cfg, "unable to load the CA file of the late socket", cafile);
  /* No trust anchors given: the system store, by hashed directory when
     there is one. */
  if (verify && !c->cafile && !c->cadir && !cafile && !t->anchors.len && tlsctx_system_ca_dir()
      && tls_config_set_ca_path(t->cfg, tlsctx_system_ca_dir()) < 0)
    return refuse_tls(r, t->cfg, "unable to use the system CA directory", tlsctx_system_ca_dir());
  if (verify) tls_config_verify(t->cfg);
  else {
    tls_config_insecure_noverifycert(t->cfg);
    tls_config_insecure_noverifyname(t->cfg);
  }
  t->libtls_verifies = verify;
  /* libtls does not verify: the report does, against the same anchors. */
  if (!verify && !t->report)
    t->report = t->anchors.len && !cafile ? store_from_anchors(&t->anchors, c->crlfile)
                                          : tlsctx_report_store(cafile ? cafile : c->cafile, cafile ? 0 : c->cadir, c->crlfile);
  t->ctx = tls_client();
  if (!t->ctx) { reason_set(r, EXIT_TEMP, "unable to allocate a TLS context", 0, 0, 0); return -1; }
  if (tls_configure(t->ctx, t->cfg) < 0) {
    reason_tls(r, EXIT_CONFIG, "unable to configure the TLS client", 0, tls_error(t->ctx));
    return -1;
  }
  return 0;
}

int tlsctx_per_client(struct tlsctx *t, struct tlsconf const *conf, struct tlsconf const *opts, struct reason *r)
{
  char const *ciphers = opts->ciphers ? 0 : getenv("TLSCIPHERS");
  char const *protocols = opts->protocols ? 0 : getenv("TLSPROTOCOLS");
  int changed = 0;
  if (ciphers && *ciphers && strcmp(ciphers, conf->ciphers)) {
    if (tls_config_set_ciphers(t->cfg, ciphers) < 0) { reason_set(r, EXIT_CONFIG, "invalid cipher list: ", ciphers, 0, 0); return -1; }
    changed = 1;
  }
  if (protocols && *protocols && strcmp(protocols, conf->protocols)) {
    if (set_protocols(t->cfg, protocols) < 0) { reason_set(r, EXIT_CONFIG, "invalid protocol list: ", protocols, 0, 0); return -1; }
    changed = 1;
  }
  if (!changed) return 0;
  /* The listener's context stays the listener's: this fork gets its own. */
  return server_configure(t, conf, "unable to configure the per-client settings", r);
}

static int bio_string(BIO *bio, char *buf, size_t len)
{
  int n = BIO_read(bio, buf, (int)len - 1);
  if (n < 0) n = 0;
  buf[n] = 0;
  return n > 0 ? 0 : -1;
}

int tlsctx_cert_info(char const *file, char *subject, size_t sublen, char *notafter, size_t nalen)
{
  BIO *in = file ? BIO_new_file(file, "r") : 0;
  X509 *x = in ? PEM_read_bio_X509(in, 0, 0, 0) : 0;
  BIO *out = x ? BIO_new(BIO_s_mem()) : 0;
  int r = -1;
  if (out && X509_NAME_print_ex(out, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0 && !bio_string(out, subject, sublen)
      && BIO_reset(out) >= 0 && ASN1_TIME_print(out, X509_get0_notAfter(x)) == 1 && !bio_string(out, notafter, nalen)) r = 0;
  BIO_free(out);
  X509_free(x);
  BIO_free(in);
  ERR_clear_error();
  return r;
}

void tlsctx_clear_keys(struct tlsctx *t)
{
  if (t->cfg) tls_config_clear_keys(t->cfg);
}

void tlsctx_free(struct tlsctx *t)
{
  if (t->ctx) tls_free(t->ctx);
  if (t->cfg) tls_config_free(t->cfg);
  if (t->report) X509_STORE_free(t->report);
  tickets_release(t->tickets);
  stralloc_free(&t->anchors);
  t->ctx = 0; t->cfg = 0; t->report = 0; t->tickets = 0;
}
