/* reason: why something failed, as one line of text and the exit status it
   calls for. Library code fills one in and returns an error; the program
   decides what to do with it (log it, exit, tell prog over SSLCTLFD). */
#ifndef UCSPITLS_REASON_H
#define UCSPITLS_REASON_H

#define REASON_MAX 512

struct reason {
  int code;                 /* exit status it calls for (exitcodes.h); 0 none */
  char text[REASON_MAX];    /* "" when nothing failed */
};

/* Up to four pieces, concatenated (NULL pieces are skipped); cut at
   REASON_MAX - 1 bytes. */
extern void reason_set(struct reason *, int code, char const *, char const *, char const *, char const *);
/* The same, then ": " and strerror(errno) when errno is not 0. */
extern void reason_sys(struct reason *, int code, char const *, char const *, char const *);
/* A libtls error text: libtls appends strerror(errno) even when errno is 0
   (": Success"), which says nothing: that tail is dropped. Gives
   "what file: tlserr", "what: tlserr", or (what NULL) "tlserr". */
extern void reason_tls(struct reason *, int code, char const *what, char const *file, char const *tlserr);

#endif
