/* tickets: TLS session tickets that every engine holding the same key file
   can decrypt, TLS 1.2 and 1.3, chained or listening.
   The key file: one key per line, 96 hex digits (48 random bytes), oldest
   first; lines that are empty or start with '#' are skipped. The last key
   encrypts new tickets, every key decrypts. A key is named in tickets by a
   hash of it, never by its bytes; the session-id context comes from the
   file's name and the scope the caller gives, never from a key, so that
   rotating keys keeps every remaining key's tickets valid. */
#ifndef UCSPITLS_TICKETS_H
#define UCSPITLS_TICKETS_H

#include <stddef.h>
#include <tls.h>

#define TICKETS_LIFETIME_DEFAULT 7200U   /* seconds: TLS_TICKETLIFETIME unset */
#define TICKETS_LIFETIME_MAX 604800U     /* RFC 8446's limit: seven days */
#define TICKETS_FILE_MAX 65536           /* bytes: a key file is small */

struct tickets;

/* TLS_TICKETLIFETIME's value: seconds, 1 to TICKETS_LIFETIME_MAX; NULL or
   empty gives the default. 0 ok, -1 not a valid lifetime. */
extern int tickets_lifetime(char const *s, unsigned int *secs);

/* Read and parse a key file. scope is mixed into the session-id context
   (settings a resumed session must agree on, such as the client certificate
   mode). NULL on error: *why says what, errno is the system's reason or 0.
   Every copy of the key text is wiped before returning. */
extern struct tickets *tickets_load(char const *file, unsigned int lifetime, char const *scope, char const **why);
/* Drop the caller's reference: the keys are wiped and freed once no
   context configured with them remains. NULL is fine. */
extern void tickets_release(struct tickets *);
extern unsigned int tickets_count(struct tickets const *);

/* tls_configure(ctx, cfg), then on every OpenSSL context it created: with
   t, tickets sealed with t's newest key and opened with any of its keys;
   with t NULL, no tickets at all (a ticket no other process can open is
   useless). Use it for every tls_configure of a server context. 0 ok, -1
   on error: *why is tls_error's message or this module's. */
extern int tickets_configure(struct tls *ctx, struct tls_config *cfg, struct tickets *t, char const **why);

#endif
