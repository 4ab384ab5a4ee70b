#include <errno.h>
#include <string.h>
#include "reason.h"

static size_t cat(char *s, size_t len, char const *piece)
{
  size_t n;
  if (!piece) return len;
  n = strlen(piece);
  if (n > REASON_MAX - 1 - len) n = REASON_MAX - 1 - len;
  memmove(s + len, piece, n);   /* a piece may be the text itself */
  return len + n;
}

void reason_set(struct reason *r, int code, char const *a, char const *b, char const *c, char const *d)
{
  size_t len = 0;
  len = cat(r->text, len, a);
  len = cat(r->text, len, b);
  len = cat(r->text, len, c);
  len = cat(r->text, len, d);
  r->text[len] = 0;
  r->code = code;
}

void reason_sys(struct reason *r, int code, char const *a, char const *b, char const *c)
{
  int e = errno;
  reason_set(r, code, a, b, c, e ? ": " : 0);
  if (e) reason_set(r, code, r->text, strerror(e), 0, 0);
}

void reason_tls(struct reason *r, int code, char const *what, char const *file, char const *tlserr)
{
  char buf[REASON_MAX];
  size_t n;
  if (!tlserr || !*tlserr) tlserr = "unknown error";
  n = strlen(tlserr);
  if (n >= sizeof buf) n = sizeof buf - 1;
  memcpy(buf, tlserr, n);
  buf[n] = 0;
  if (n >= 9 && !strcmp(buf + n - 9, ": Success")) buf[n - 9] = 0;
  if (!what) reason_set(r, code, buf, 0, 0, 0);
  else if (file) {
    reason_set(r, code, what, " ", file, ": ");
    reason_set(r, code, r->text, buf, 0, 0);
  } else reason_set(r, code, what, ": ", buf, 0);
}
