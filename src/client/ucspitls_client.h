/* ucspitls_client.h - the program's side of the UCSPI-TLS control protocol.
 *
 * Plain POSIX C, no other header of this package, no skalibs, no qmail
 * headers: the pair ucspitls_client.h / ucspitls_client.c can be copied
 * into any tree (qmail, notqmail, ...) as is. See doc/ucspi-tls-protocol.md.
 *
 * Typical server use (qmail-smtpd after "220 ready for tls"):
 *
 *   discard everything read from fd 0 but not yet processed;
 *   r = ucspitls_starttls(err, sizeof err);
 *   if (r != 1) exit: the stream is dead;
 *   ucspitls_switch(0, 1);   now fds 0/1 carry plaintext inside TLS
 *
 * Typical late-socket client use (qmail-remote, under tlsclient -n):
 *
 *   connect smtpfd yourself, read 220, EHLO, see 250-STARTTLS, STARTTLS, 220;
 *   ucspitls_send_socket(smtpfd, mxname, cafile_or_0, verify);
 *   r = ucspitls_starttls(err, sizeof err);
 *   ucspitls_switch(smtpfd, smtpfd);
 */
#ifndef UCSPITLS_CLIENT_H
#define UCSPITLS_CLIENT_H

#include <stddef.h>

/* 1 if SSLCTLFD, SSLREADFD and SSLWRITEFD are all set to decimal numbers
 * naming open descriptors, else 0. */
int ucspitls_available(void);

/* Late socket (tlsclient -n started without descriptors 6/7): passes the
 * connected socket sockfd over SSLCTLFD (SCM_RIGHTS) with the parameter
 * block  S host=<host>\0 [cafile=<cafile>\0] verify=<0|1>\0 \0
 * host: required, non-empty, at most 255 bytes (SNI and the name to verify).
 * cafile: 0 or "" for none; else (at most 1023 bytes) a PEM file of trust anchors replacing the
 * default store for this session. verify: 0 = do not verify (opportunistic),
 * anything else = verify. The caller keeps its own copy of sockfd (the
 * engine gets a duplicate); ucspitls_switch(sockfd, sockfd) later replaces it.
 * Returns 0 ok, -1 error (errno; EINVAL for a bad argument). */
int ucspitls_send_socket(int sockfd, const char *host, const char *cafile, int verify);

/* Writes 'Y' on SSLCTLFD and reads the reply up to its terminating empty
 * string (at most 64 KiB). On success every "NAME=value" entry is applied
 * with setenv() and every "NAME" entry (no '=') with unsetenv(); nothing is
 * applied unless the whole reply was well formed.
 * Returns 1 = TLS is up;
 *         0 = handshake failed (control socket closed before the terminator):
 *             err holds SSL_ERROR's value if the engine sent one, else
 *             "no reason given";
 *        -1 = system or protocol error (errno; EPROTO for a malformed reply,
 *             EMSGSIZE for one longer than 64 KiB): err holds a short text.
 * err may be 0 when errlen is 0; it is always NUL-terminated otherwise
 * (truncated to errlen-1 bytes). Either way the program must not go on
 * using the raw connection after 0 or -1: the stream is dead. */
int ucspitls_starttls(char *err, size_t errlen);

/* dup2(SSLREADFD, rfd) and dup2(SSLWRITEFD, wfd) (either of rfd, wfd may be
 * -1 to skip it; rfd == wfd is fine when SSLREADFD == SSLWRITEFD), then
 * closes the original SSLREADFD, SSLWRITEFD and SSLCTLFD (unless one of
 * them is rfd or wfd) and removes SSLCTLFD, SSLREADFD, SSLWRITEFD from the
 * environment, so that programs started later do not take unrelated
 * descriptors for a control socket. Returns 0 ok, -1 error (errno). */
int ucspitls_switch(int rfd, int wfd);

#endif
