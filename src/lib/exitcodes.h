/* exitcodes: the exit statuses of tlsserver and tlsclient (doc/reference.md,
   "Exit codes"). One list, for the programs, the engine and the library. */
#ifndef UCSPITLS_EXITCODES_H
#define UCSPITLS_EXITCODES_H

#define EXIT_UNCLEAN 2              /* peer closed TCP without close_notify */
#define EXIT_IDLE 3                 /* idle deadline */
#define EXIT_IOERROR 4              /* TLS or I/O error after the handshake */
#define EXIT_CONFIG 96              /* configuration refused */
#define EXIT_HANDSHAKE 97           /* handshake failed */
#define EXIT_HANDSHAKE_TIMEOUT 98   /* handshake deadline */
#define EXIT_PROTOCOL 99            /* UCSPI-TLS control protocol error */
#define EXIT_USAGE 100
#define EXIT_TEMP 111               /* temporary: system failure, prog not executable */

#endif
