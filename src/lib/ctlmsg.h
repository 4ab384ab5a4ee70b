/* ctlmsg: parsing what a program writes on SSLCTLFD. Pure functions on
   byte strings, so that they can be fuzzed on their own. */
#ifndef UCSPITLS_CTLMSG_H
#define UCSPITLS_CTLMSG_H

#include <stddef.h>

#define CTLMSG_PARAMS_MAX 4096

/* Parameters of a late-socket message: S host=...\0 cafile=...\0 verify=0|1\0 \0 */
struct ctlmsg_socket {
  char host[256];
  char cafile[1024];
  int verify;            /* default 1 */
};

/* Parse the parameter block that follows the 'S' byte.
   Returns the number of bytes consumed (terminator included) when complete,
   0 when more bytes are needed, -1 when malformed (unknown key, bad value,
   empty or over-long host, block over CTLMSG_PARAMS_MAX). */
extern long ctlmsg_parse_socket(char const *s, size_t len, struct ctlmsg_socket *out);

#endif
