/* pemfile: configuration files read safely, once, into memory, and PEM
   text split into its certificates and its private key, so that what is
   checked is what is loaded and a key never travels as part of a
   "certificate". Nothing here exits: every function returns an error code
   and a one-line message naming the file. */
#ifndef UCSPITLS_PEMFILE_H
#define UCSPITLS_PEMFILE_H

#include <stddef.h>
#include <time.h>
#include <tls.h>
#include <skalibs/stralloc.h>

/* The largest configuration file read (a chain of a dozen certificates is
   under 20 KB; a CA bundle is about 200 KB). */
#define PEMFILE_MAX (1024 * 1024)

enum pemfile_code {
  PEMFILE_OK = 0,
  PEMFILE_EOPEN,       /* cannot open (missing, permission): errnum set */
  PEMFILE_ENOTREG,     /* not a regular file (FIFO, directory, device) */
  PEMFILE_ETOOBIG,     /* over the size limit */
  PEMFILE_EREAD,       /* read error (errnum), or the file changed while read */
  PEMFILE_EEMPTY,      /* empty file */
  PEMFILE_EGARBAGE,    /* no PEM block, or a malformed one */
  PEMFILE_ENOCERT,     /* no certificate in it */
  PEMFILE_ENOKEY,      /* no private key in it */
  PEMFILE_EMANYKEYS,   /* more than one private key */
  PEMFILE_EENCRYPTED,  /* the private key is encrypted */
  PEMFILE_EBADCERT,    /* a certificate block that does not parse */
  PEMFILE_EBADKEY,     /* a key block that does not parse */
  PEMFILE_EMISMATCH,   /* the key does not belong to the (first) certificate */
  PEMFILE_ETLS,        /* libtls refused what we handed it */
  PEMFILE_ENOMEM
};

struct pemfile_error {
  int code;            /* enum pemfile_code */
  int errnum;          /* errno for EOPEN / EREAD, else 0 */
  char msg[600];       /* one line, names the file */
};

/* Read a whole file into sa (sa->len bytes; sa->s is allocated once, so no
   copy of the content is left behind by a reallocation). The file is opened
   with O_NONBLOCK|O_CLOEXEC, so a FIFO cannot block; anything but a regular
   file is refused, and so is one larger than max bytes. what names the file
   in messages ("certificate", "CA file"). 0 ok, -1 error (*err filled). */
extern int pemfile_read(char const *what, char const *file, size_t max, stralloc *sa, struct pemfile_error *err);

/* Wipe a buffer this module filled (sa->a bytes), then free it. */
extern void pemfile_wipe(stralloc *sa);

/* One PEM block: s[start..start+len) runs from "-----BEGIN" to the end of
   its "-----END ...-----" marker (the line terminator excluded). */
enum pemblock_kind { PEMBLOCK_CERT, PEMBLOCK_KEY, PEMBLOCK_KEY_ENCRYPTED, PEMBLOCK_OTHER };
struct pemblock { size_t start, len; int kind; };

/* The next block at or after *pos; *pos moves past it. 1 a block, 0 no
   more, -1 malformed (a BEGIN without its END, a marker line inside a
   block, a label over 64 bytes): nothing past it is trusted. */
extern int pemfile_next_block(char const *s, size_t len, size_t *pos, struct pemblock *b);

/* Split PEM text: every certificate block is appended to certs, every
   private key block to keys, each followed by "\n"; other blocks (EC
   PARAMETERS, DH PARAMETERS) and text between blocks are dropped. Returns
   the number of key blocks, or -1: PEMFILE_EGARBAGE (malformed, or not one
   PEM block), PEMFILE_ENOMEM. An encrypted key counts, and sets
   *encrypted. */
extern int pemfile_split(char const *s, size_t len, stralloc *certs, stralloc *keys, int *encrypted);

/* A certificate chain and its key, each as PEM text in memory. */
struct pemfile_keypair {
  stralloc cert;       /* the certificate blocks, leaf first as in the file */
  stralloc key;        /* the one private key block */
};
#define PEMFILE_KEYPAIR_ZERO { STRALLOC_ZERO, STRALLOC_ZERO }

/* Read certfile (and keyfile when it is another name; NULL or the same
   name: the key is looked for in certfile, the qmail-tls servercert.pem
   way), split, and check: at least one certificate, exactly one key, not
   encrypted, every block parses, the key matches the first certificate.
   Every buffer holding key text is wiped before it is freed. 0 ok, -1
   error (*err filled, kp left empty). */
extern int pemfile_keypair(char const *certfile, char const *keyfile, struct pemfile_keypair *kp, struct pemfile_error *err);

/* Wipe and free both halves. */
extern void pemfile_keypair_free(struct pemfile_keypair *kp);

/* Validity of the first certificate of PEM text at a given time. */
enum pemfile_validity_state { PEMFILE_VALID = 0, PEMFILE_EXPIRED = 1, PEMFILE_NOT_YET_VALID = 2 };
struct pemfile_validity {
  int state;           /* enum pemfile_validity_state */
  char notbefore[32], notafter[32];   /* "Feb  1 00:00:00 2020 GMT", as SSL_*_V_END */
};
/* 0 ok (*v filled), -1 no readable certificate. */
extern int pemfile_validity(char const *pem, size_t len, time_t now, struct pemfile_validity *v);

/* The whole job for libtls: pemfile_keypair's checks but the parse of
   every block and the key match, which libtls does again (its refusal is
   then worth a pemfile_keypair for the precise reason), then
   tls_config_set_keypair_mem (add == 0) or tls_config_add_keypair_mem
   (add == 1: an SNI pair), then wipe our copies. libtls copies both; its
   copy of the key is the one tls_config_clear_keys() wipes, and no key
   text is left in its certificate copy. v (may be NULL) gets the leaf's
   validity at the time of the call. 0 ok, -1 error (*err filled). */
extern int pemfile_tls_keypair(struct tls_config *cfg, int add, char const *certfile, char const *keyfile,
                               struct pemfile_validity *v, struct pemfile_error *err);

#endif
