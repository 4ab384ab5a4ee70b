#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/bytestr.h>
#include <skalibs/djbunix.h>
#include <skalibs/types.h>
#include "pemfile.h"

/* The message: the parts concatenated, cut at the buffer (a file name of
   PATH_MAX bytes still leaves the reason readable: it comes first only
   when short). */
static int fail(struct pemfile_error *err, int code, int errnum, char const *a, char const *b,
                char const *c, char const *d)
{
  char const *part[5] = { a, b, c, d, errnum ? strerror(errnum) : 0 };
  size_t n = 0, i;
  err->code = code;
  err->errnum = errnum;
  for (i = 0; i < 5; i++) {
    size_t k;
    if (!part[i]) continue;
    if (i == 4 && n < sizeof err->msg - 1) { err->msg[n++] = ':'; if (n < sizeof err->msg - 1) err->msg[n++] = ' '; }
    k = strlen(part[i]);
    if (k > sizeof err->msg - 1 - n) k = sizeof err->msg - 1 - n;
    memcpy(err->msg + n, part[i], k);
    n += k;
  }
  err->msg[n] = 0;
  return -1;
}

void pemfile_wipe(stralloc *sa)
{
  if (sa->s) byte_zzero(sa->s, sa->a);
  stralloc_free(sa);
}

int pemfile_read(char const *what, char const *file, size_t max, stralloc *sa, struct pemfile_error *err)
{
  struct stat st;
  size_t want, r;
  int fd = openc_read(file);       /* O_RDONLY | O_NONBLOCK | O_CLOEXEC */
  if (fd < 0) return fail(err, PEMFILE_EOPEN, errno, "unable to read ", what, " ", file);
  if (fstat(fd, &st) < 0) {
    int e = errno;
    fd_close(fd);
    return fail(err, PEMFILE_EREAD, e, "unable to read ", what, " ", file);
  }
  if (!S_ISREG(st.st_mode)) {
    fd_close(fd);
    return fail(err, PEMFILE_ENOTREG, 0, what, " ", file,
                S_ISDIR(st.st_mode) ? " is a directory, not a regular file"
                : S_ISFIFO(st.st_mode) ? " is a FIFO, not a regular file" : " is not a regular file");
  }
  if (st.st_size < 0 || (unsigned long long)st.st_size > max) {
    char msg[64 + SIZE_FMT] = " is larger than the limit of ";
    size_t n = strlen(msg);
    n += size_fmt(msg + n, max);
    memcpy(msg + n, " bytes", 7);
    fd_close(fd);
    return fail(err, PEMFILE_ETOOBIG, 0, what, " ", file, msg);
  }
  if (!st.st_size) { fd_close(fd); return fail(err, PEMFILE_EEMPTY, 0, what, " ", file, " is empty"); }
  /* One allocation, never grown: a reallocation would leave a copy of a
     key in freed memory. One byte more than the size shows a file that
     grows while it is read. */
  want = (size_t)st.st_size + 1;
  sa->len = 0;
  if (!stralloc_ready(sa, want)) { fd_close(fd); return fail(err, PEMFILE_ENOMEM, ENOMEM, "unable to read ", what, " ", file); }
  errno = 0;
  r = allread(fd, sa->s, want);
  if (r < want && errno) {
    int e = errno;
    fd_close(fd);
    pemfile_wipe(sa);
    return fail(err, PEMFILE_EREAD, e, "unable to read ", what, " ", file);
  }
  fd_close(fd);
  if (r == want) {
    pemfile_wipe(sa);
    return fail(err, PEMFILE_EREAD, 0, what, " ", file, " changed while it was read");
  }
  sa->len = r;
  if (!r) { pemfile_wipe(sa); return fail(err, PEMFILE_EEMPTY, 0, what, " ", file, " is empty"); }
  return 0;
}

/* ------------------------------------------------------------ PEM blocks */

static size_t line_end(char const *s, size_t len, size_t i)
{
  char const *nl = memchr(s + i, '\n', len - i);
  return nl ? (size_t)(nl - s) : len;
}

/* Length of a marker line without its terminator ("\r" tolerated). */
static size_t trim_cr(char const *s, size_t start, size_t end)
{
  return end > start && s[end - 1] == '\r' ? end - 1 - start : end - start;
}

static int kind_of(char const *label, size_t n)
{
  if ((n == 11 && !memcmp(label, "CERTIFICATE", 11)) || (n == 16 && !memcmp(label, "X509 CERTIFICATE", 16)))
    return PEMBLOCK_CERT;
  if (n == 21 && !memcmp(label, "ENCRYPTED PRIVATE KEY", 21)) return PEMBLOCK_KEY_ENCRYPTED;
  /* PRIVATE KEY, RSA / EC / DSA PRIVATE KEY, and any other: whatever is
     called a private key is handled as one, never as a certificate. */
  if (n >= 11 && !memcmp(label + n - 11, "PRIVATE KEY", 11)) return PEMBLOCK_KEY;
  return PEMBLOCK_OTHER;
}

int pemfile_next_block(char const *s, size_t len, size_t *pos, struct pemblock *b)
{
  size_t i = *pos;
  while (i < len) {
    size_t e = line_end(s, len, i), n = trim_cr(s, i, e);
    if (n >= 11 && !memcmp(s + i, "-----BEGIN ", 11)) {
      char const *label = s + i + 11;
      size_t ln = n - 11, j;
      if (ln < 6 || memcmp(label + ln - 5, "-----", 5)) return -1;
      ln -= 5;
      if (!ln || ln > 64) return -1;
      b->start = i;
      b->kind = kind_of(label, ln);
      for (j = e < len ? e + 1 : len; j < len;) {
        size_t e2 = line_end(s, len, j), n2 = trim_cr(s, j, e2);
        if (n2 >= 5 && !memcmp(s + j, "-----", 5)) {
          /* the one marker allowed inside: our END */
          if (n2 != 9 + ln + 5 || memcmp(s + j, "-----END ", 9) || memcmp(s + j + 9, label, ln)
              || memcmp(s + j + 9 + ln, "-----", 5)) return -1;
          b->len = j + n2 - i;
          *pos = e2 < len ? e2 + 1 : len;
          return 1;
        }
        if (b->kind == PEMBLOCK_KEY && n2 >= 22 && !memcmp(s + j, "Proc-Type: 4,ENCRYPTED", 22))
          b->kind = PEMBLOCK_KEY_ENCRYPTED;
        j = e2 < len ? e2 + 1 : len;
      }
      return -1;                   /* no END */
    }
    i = e < len ? e + 1 : len;
  }
  *pos = len;
  return 0;
}

int pemfile_split(char const *s, size_t len, stralloc *certs, stralloc *keys, int *encrypted)
{
  size_t pos = 0;
  int nkeys = 0, nblocks = 0, r;
  struct pemblock b;
  *encrypted = 0;
  /* Room for everything at once: keys never grows by reallocation. */
  if (!stralloc_readyplus(certs, len + 1) || !stralloc_readyplus(keys, len + 1)) { errno = ENOMEM; return -1; }
  while ((r = pemfile_next_block(s, len, &pos, &b)) > 0) {
    stralloc *to = b.kind == PEMBLOCK_CERT ? certs : b.kind == PEMBLOCK_OTHER ? 0 : keys;
    nblocks++;
    if (b.kind == PEMBLOCK_KEY_ENCRYPTED) *encrypted = 1;
    if (b.kind == PEMBLOCK_KEY || b.kind == PEMBLOCK_KEY_ENCRYPTED) nkeys++;
    if (to) {
      memcpy(to->s + to->len, s + b.start, b.len);
      to->len += b.len;
      to->s[to->len++] = '\n';
    }
  }
  if (r < 0 || !nblocks) { errno = EINVAL; return -1; }
  return nkeys;
}

/* ------------------------------------------------------------ key pairs */

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
  (void)buf; (void)size; (void)rwflag; (void)u;
  return 0;
}

void pemfile_keypair_free(struct pemfile_keypair *kp)
{
  pemfile_wipe(&kp->cert);
  pemfile_wipe(&kp->key);
}

static int split_file(char const *what, char const *file, stralloc *certs, stralloc *keys, int *encrypted,
                      struct pemfile_error *err)
{
  stralloc text = STRALLOC_ZERO;
  int n;
  if (pemfile_read(what, file, PEMFILE_MAX, &text, err) < 0) return -1;
  n = pemfile_split(text.s, text.len, certs, keys, encrypted);
  pemfile_wipe(&text);
  if (n < 0) {
    if (errno == ENOMEM) return fail(err, PEMFILE_ENOMEM, ENOMEM, "unable to read ", what, " ", file);
    return fail(err, PEMFILE_EGARBAGE, 0, what, " ", file, " is not PEM text (or holds a malformed PEM block)");
  }
  return n;
}

static void validity_of(X509 *x, time_t now, struct pemfile_validity *v);

/* v (may be NULL): the leaf's validity, from the certificate parsed here
   anyway (a second parse costs about 1.5 million instructions an engine). */
static int keypair_load(char const *certfile, char const *keyfile, struct pemfile_keypair *kp,
                        struct pemfile_validity *v, int thorough, struct pemfile_error *err)
{
  int samefile = !keyfile || !strcmp(keyfile, certfile);
  char const *kf = samefile ? certfile : keyfile;
  stralloc other = STRALLOC_ZERO;
  int nkeys, enc = 0, ncerts = 0;
  BIO *bio = 0;
  X509 *leaf = 0, *x;
  EVP_PKEY *pkey = 0;
  kp->cert.len = kp->key.len = 0;

  nkeys = split_file("certificate", certfile, &kp->cert, samefile ? &kp->key : &other, &enc, err);
  if (nkeys < 0) goto bad;
  if (!samefile) {
    /* Keys in the certificate file are not used: wipe them. */
    pemfile_wipe(&other);
    nkeys = split_file("key", keyfile, &other, &kp->key, &enc, err);
    pemfile_wipe(&other);
    if (nkeys < 0) goto bad;
  }
  if (!kp->cert.len) {
    fail(err, PEMFILE_ENOCERT, 0, "certificate file ", certfile,
         nkeys ? " holds no certificate (only a private key)" : " holds no certificate", 0);
    goto bad;
  }
  if (!nkeys) {
    if (samefile) fail(err, PEMFILE_ENOKEY, 0, "certificate file ", certfile, " holds no private key: set KEYFILE or -k", 0);
    else fail(err, PEMFILE_ENOKEY, 0, "key file ", keyfile, " holds no private key", 0);
    goto bad;
  }
  if (nkeys > 1) { fail(err, PEMFILE_EMANYKEYS, 0, "key file ", kf, " holds more than one private key", 0); goto bad; }
  if (enc) {
    fail(err, PEMFILE_EENCRYPTED, 0, "the private key in ", kf,
         " is encrypted (nothing can ask for a passphrase): store it decrypted, readable by root only", 0);
    goto bad;
  }

  /* Quick: the leaf only, for its validity; libtls parses the rest, and
     when it refuses, the caller asks for the thorough check, which says
     which block is wrong. */
  if (!thorough) {
    bio = BIO_new_mem_buf(kp->cert.s, (int)kp->cert.len);
    leaf = bio ? PEM_read_bio_X509(bio, 0, no_passphrase, 0) : 0;
    BIO_free(bio);
    if (!leaf) { fail(err, PEMFILE_EBADCERT, 0, "certificate file ", certfile, " holds an unreadable certificate", 0); goto bad; }
    goto checked;
  }
  /* Every certificate must parse: libtls would otherwise load a shorter
     chain without a word. */
  bio = BIO_new_mem_buf(kp->cert.s, (int)kp->cert.len);
  if (!bio) { fail(err, PEMFILE_ENOMEM, ENOMEM, "unable to check certificate ", certfile, 0, 0); goto bad; }
  while ((x = PEM_read_bio_X509(bio, 0, no_passphrase, 0))) {
    if (!ncerts++) leaf = x; else X509_free(x);
  }
  BIO_free(bio);
  {
    size_t pos = 0;
    struct pemblock b;
    int blocks = 0;
    while (pemfile_next_block(kp->cert.s, kp->cert.len, &pos, &b) > 0) blocks++;
    if (!leaf || ncerts != blocks) { fail(err, PEMFILE_EBADCERT, 0, "certificate file ", certfile, " holds an unreadable certificate", 0); goto bad; }
  }
  bio = BIO_new_mem_buf(kp->key.s, (int)kp->key.len);
  pkey = bio ? PEM_read_bio_PrivateKey(bio, 0, no_passphrase, 0) : 0;
  BIO_free(bio);
  if (!pkey) { fail(err, PEMFILE_EBADKEY, 0, "key file ", kf, " holds an unreadable private key", 0); goto bad; }
  if (X509_check_private_key(leaf, pkey) != 1) {
    fail(err, PEMFILE_EMISMATCH, 0, "the private key in ", kf, " does not match the certificate in ", certfile);
    goto bad;
  }
 checked:
  if (v) validity_of(leaf, time(0), v);
  EVP_PKEY_free(pkey);
  X509_free(leaf);
  ERR_clear_error();
  err->code = PEMFILE_OK;
  err->errnum = 0;
  err->msg[0] = 0;
  return 0;
 bad:
  EVP_PKEY_free(pkey);
  X509_free(leaf);
  ERR_clear_error();
  pemfile_keypair_free(kp);
  return -1;
}

int pemfile_keypair(char const *certfile, char const *keyfile, struct pemfile_keypair *kp, struct pemfile_error *err)
{
  return keypair_load(certfile, keyfile, kp, 0, 1, err);
}

/* ------------------------------------------------------------ validity */

static void asn1_time_string(ASN1_TIME const *t, char *buf, size_t len)
{
  BIO *bio = BIO_new(BIO_s_mem());
  char *data;
  long n;
  buf[0] = 0;
  if (!bio) return;
  if (ASN1_TIME_print(bio, t) == 1 && (n = BIO_get_mem_data(bio, &data)) > 0 && (size_t)n < len) {
    memcpy(buf, data, (size_t)n);
    buf[n] = 0;
  }
  BIO_free(bio);
}

static void validity_of(X509 *x, time_t now, struct pemfile_validity *v)
{
  asn1_time_string(X509_get0_notBefore(x), v->notbefore, sizeof v->notbefore);
  asn1_time_string(X509_get0_notAfter(x), v->notafter, sizeof v->notafter);
  if (X509_cmp_time(X509_get0_notAfter(x), &now) < 0) v->state = PEMFILE_EXPIRED;
  else if (X509_cmp_time(X509_get0_notBefore(x), &now) > 0) v->state = PEMFILE_NOT_YET_VALID;
  else v->state = PEMFILE_VALID;
}

int pemfile_validity(char const *pem, size_t len, time_t now, struct pemfile_validity *v)
{
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  X509 *x = bio ? PEM_read_bio_X509(bio, 0, no_passphrase, 0) : 0;
  BIO_free(bio);
  if (!x) { ERR_clear_error(); return -1; }
  validity_of(x, now, v);
  X509_free(x);
  ERR_clear_error();
  return 0;
}

/* ------------------------------------------------------------ libtls */

int pemfile_tls_keypair(struct tls_config *cfg, int add, char const *certfile, char const *keyfile,
                        struct pemfile_validity *v, struct pemfile_error *err)
{
  struct pemfile_keypair kp = PEMFILE_KEYPAIR_ZERO;
  int r;
  if (keypair_load(certfile, keyfile, &kp, v, 0, err) < 0) return -1;
  r = add ? tls_config_add_keypair_mem(cfg, (uint8_t const *)kp.cert.s, kp.cert.len, (uint8_t const *)kp.key.s, kp.key.len)
          : tls_config_set_keypair_mem(cfg, (uint8_t const *)kp.cert.s, kp.cert.len, (uint8_t const *)kp.key.s, kp.key.len);
  pemfile_keypair_free(&kp);
  if (r < 0) {
    char const *e = tls_config_error(cfg);
    return fail(err, PEMFILE_ETLS, 0, "unable to load keypair ", certfile, ": ", e ? e : "unknown error");
  }
  err->code = PEMFILE_OK;
  err->msg[0] = 0;
  return 0;
}
