# tests/postfix-setup.sh - sourced by the test files that run a private
# Postfix, after lib.sh. One function:
#
#   pf_prepare   find a usable Postfix through package/postfix-dir: the
#                installed one, or the unpacked copy package/deps fetched on
#                a host whose MTA is another (exim4, sendmail, ...). Puts its
#                directory first in PATH and its main.cf lines in PF_MAIN (add
#                them to the instance's main.cf). When the host lacks the
#                postfix user or the postdrop group, adds them to copies of
#                /etc/passwd and /etc/group bind-mounted in this test's own
#                mount namespace: the host's files never change.
#                Returns 1 with the reason in PF_WHY when there is no Postfix.
#
# UCSPI_TLS_POSTFIX=unpacked runs the unpacked copy even where Postfix is
# installed, with the installed programs and libraries hidden (in this
# namespace), to show the tests do not lean on them.
pf_prepare() {
  local dir u id
  PF_WHY=
  dir=$(sh "$TOP/package/postfix-dir" 2>"$W/postfix-dir.err") || { PF_WHY=$(cat "$W/postfix-dir.err"); return 1; }
  PF_MAIN=$(sh "$TOP/package/postfix-dir" main.cf) || { PF_WHY="package/postfix-dir main.cf failed"; return 1; }
  PATH=$dir:$PATH
  if [ "$dir" != /usr/sbin ] && [ -d /usr/lib/postfix ]; then
    mount -t tmpfs -o size=1m,mode=755 none /usr/lib/postfix || { PF_WHY="cannot hide /usr/lib/postfix"; return 1; }
    at_exit "umount -l /usr/lib/postfix"
    if [ -e /usr/sbin/postfix ]; then
      mount --bind /dev/null /usr/sbin/postfix && at_exit "umount -l /usr/sbin/postfix"
    fi
  fi
  for u in $(sh "$TOP/package/postfix-dir" users); do
    [ -f "$W/passwd" ] || { cp /etc/passwd "$W/passwd"; cp /etc/group "$W/group"; }
    id=100
    while [ $id -lt 999 ] && { getent passwd $id || getent group $id || grep -q "^[^:]*:[^:]*:$id:" "$W/passwd" "$W/group"; } >/dev/null 2>&1; do
      id=$((id + 1))
    done
    case $u in
      group:*) grep -q "^${u#group:}:" "$W/group" || echo "${u#group:}:x:$id:" >> "$W/group" ;;
      *) echo "$u:x:$id:$id:Postfix (test):/nonexistent:/usr/sbin/nologin" >> "$W/passwd"
         grep -q "^$u:" "$W/group" || echo "$u:x:$id:" >> "$W/group" ;;
    esac
  done
  if [ -f "$W/passwd" ]; then
    mount --bind "$W/passwd" /etc/passwd && at_exit "umount -l /etc/passwd" || { PF_WHY="cannot bind-mount /etc/passwd"; return 1; }
    mount --bind "$W/group" /etc/group && at_exit "umount -l /etc/group" || { PF_WHY="cannot bind-mount /etc/group"; return 1; }
  fi
  return 0
}
