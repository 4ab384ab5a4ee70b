/* appchan: prog's plaintext channel, as the engine sees it. Two pipes, or
   one socketpair whose two directions close separately (tlsclient's late
   socket, where qmail-remote switches with one dup2 onto its smtpfd). The
   engine's ends are non-blocking; prog's are left as prog expects them. */
#ifndef UCSPITLS_APPCHAN_H
#define UCSPITLS_APPCHAN_H

struct appchan {
  int rfd, wfd;              /* engine's ends: read what prog writes, write what prog reads; -1 closed */
  int prog_rfd, prog_wfd;    /* prog's ends, until the fork hands them over */
  int pair;                  /* one socketpair: rfd == wfd, prog_rfd == prog_wfd */
  int pairfd;                /* the engine's end of it, open until appchan_close */
};

#define APPCHAN_ZERO { -1, -1, -1, -1, 0, -1 }

/* 0 ok, -1 (errno). Every descriptor is close-on-exec. */
extern int appchan_pipes(struct appchan *);
extern int appchan_pair(struct appchan *);
/* After the fork: the engine keeps its ends (non-blocking), the child its own. */
extern void appchan_engine_side(struct appchan *);
extern void appchan_prog_side(struct appchan *);
/* prog sees EOF / the engine stops reading. */
extern void appchan_close_write(struct appchan *);
extern void appchan_close_read(struct appchan *);
extern void appchan_close(struct appchan *);

#endif
