#!/usr/bin/python3
"""fuzz/mkcorpus.py - (re)write the seed corpus tests/fuzz-corpus/<harness>/.

Run from the top of the repository: python3 fuzz/mkcorpus.py
The certificate seeds come from a fresh test PKI (tests/pki.sh) made in a
temporary directory. Each seed is a small, valid or interesting input for
its harness (see fuzz/fuzz_<harness>.c for the input formats).
"""
import os, shutil, subprocess, sys, tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(TOP, "tests", "fuzz-corpus")


def put(harness, name, data):
    d = os.path.join(OUT, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def ctlmsg():
    h = "ctlmsg"
    put(h, "host-only", b"host=mx.example\0\0")
    put(h, "host-verify0", b"host=mx.example\0verify=0\0\0")
    put(h, "host-cafile-verify1", b"host=mx.example\0cafile=/var/qmail/control/tlshosts/mx.example.pem\0verify=1\0\0")
    put(h, "order-cafile-first", b"cafile=/x.pem\0verify=1\0host=a\0\0trailing")
    put(h, "incomplete", b"host=mx.exam")
    put(h, "no-host", b"verify=1\0\0")
    put(h, "unknown-key", b"host=a\0port=25\0\0")
    put(h, "bad-verify", b"host=a\0verify=2\0\0")
    put(h, "host-255", b"host=" + b"a" * 255 + b"\0\0")
    put(h, "host-256", b"host=" + b"a" * 256 + b"\0\0")
    put(h, "cafile-1023", b"host=a\0cafile=" + b"c" * 1023 + b"\0\0")
    put(h, "near-4096", b"host=a\0" + (b"cafile=" + b"c" * 1000 + b"\0") * 4 + b"verify=0\0\0")
    put(h, "empty", b"\0")


def envblock():
    h = "envblock"
    # even first byte: pairs, 0x01 name/value, 0x02 end of pair, 0x03 unset
    put(h, "pairs", b"\0SSL_PROTOCOL\1TLSv1.3\2SSL_CIPHER\1TLS_AES_256_GCM_SHA384\2SSL_CLIENT_S_DN\3\2")
    put(h, "dup-names", b"\0A\3\2A\1one\2A\1two\2AB\1x\2")
    put(h, "empty-values", b"\0X\1\2Y\2=\1v\2")
    # odd first byte: raw bytes for envblock_check / envblock_get
    put(h, "raw-good", b"\1SSL_PROTOCOL=TLSv1.3\0SSL_CIPHER\0A=\0\0")
    put(h, "raw-noterm", b"\1A=1\0B=2")
    put(h, "raw-eqname", b"\1=x\0\0")
    put(h, "raw-trailing", b"\1A=1\0\0B=2\0\0")
    put(h, "raw-unterminated-value", b"\1A=xyz")


SAMPLE_REPLY = (b"SSL_PROTOCOL=TLSv1.3\0SSL_CIPHER=TLS_AES_256_GCM_SHA384\0SSL_CIPHER_USEKEYSIZE=256\0"
                b"SSL_TLS_SNI_SERVERNAME=localhost\0SSL_TLS_SNI=localhost\0SSL_SESSION_RESUMED=Initial\0"
                b"SSL_CLIENT_VERIFY=NONE\0SSL_CLIENT_S_DN\0SSL_CLIENT_I_DN\0SSL_CLIENT_S_DN_CN\0"
                b"SSL_CLIENT_S_DN_Email\0SSL_CLIENT_V_END\0SSL_CLIENT_CERT_HASH\0SSL_PEER_CERT_HASH\0"
                b"SSL_PEER_CERT_SUBJECT\0SSL_SERVER_VERIFY\0SSL_SERVER_S_DN\0\0")


def client_reply():
    h = "client_reply"
    # flags, chunk size, errlen, then the reply
    put(h, "engine-reply", b"\0\0\100" + SAMPLE_REPLY)
    put(h, "engine-reply-seqpacket-chunks", b"\1\7\100" + SAMPLE_REPLY)
    put(h, "engine-reply-bytewise", b"\0\1\20" + SAMPLE_REPLY)
    put(h, "empty-reply", b"\0\0\10\0")
    put(h, "failure-with-reason", b"\0\0\100SSL_ERROR=handshake failed: no shared cipher\0")
    put(h, "failure-no-reason", b"\0\0\100")
    put(h, "failure-partial", b"\0\3\4SSL_PROTOCOL=TLSv1.3\0SSL_ERROR=x\0SSL_ERR")
    put(h, "malformed-name", b"\0\0\100SSL PROTOCOL=x\0\0")
    put(h, "malformed-eq", b"\0\0\100=x\0\0")
    put(h, "enomem-2nd-call", b"\x08\0\100A=1\0B=2\0C\0\0")
    put(h, "errlen0-null", b"\2\0\0SSL_ERROR=reason\0")
    put(h, "too-long", b"\0\0\100" + b"A" * 65540)
    put(h, "max-length", b"\0\0\100" + b"A=" + b"v" * 65532 + b"\0\0")


def options_env():
    h = "options_env"
    # byte 0: server bit; records <selector><arg>\0; 0xff starts the environment
    # selectors index "nvckaArCpKTSsugyYhix?:" (options) and the variable list (environment)
    put(h, "server-defaults", b"\1\xff")
    put(h, "numbers", b"\1\x0960000\0\x0a1200000\0\x01" b"2\0\x0d" b"1000\0\x0e" b"1000\0\xff")
    put(h, "bad-numbers", b"\0\x09-1\0\x0a4294967296\0\x01x\0\x0e\0\xff")
    put(h, "big-deadline", b"\0\x092147483648\0\xff")
    put(h, "env-files", b"\1\xff\0/etc/cert.pem\0\2/etc/ca.pem\0\5ECDHE+AESGCM\0\6tlsv1.2\0")
    put(h, "env-empty", b"\1\xff\0\0\1\0\2\0\x05\0\x06\0")
    put(h, "cmd-wins", b"\1\x02/cmd.pem\0\x07HIGH\0\xff\0/env.pem\0\5LOW\0")
    put(h, "bad-ciphers", b"\0\x07NOT-A-CIPHER\0\xff")
    put(h, "bad-protocols", b"\0\x08tlsv9\0\xff")
    put(h, "protocols-list", b"\0\x08tlsv1.0,tlsv1.1,!tlsv1.0,all,legacy,default,secure\0\xff")


def cert_email():
    h = "cert_email"
    tmp = tempfile.mkdtemp(prefix="mkcorpus.")
    try:
        subprocess.run(["bash", os.path.join(TOP, "tests", "pki.sh"), tmp], check=True,
                       stdout=subprocess.DEVNULL)
        ders = {}
        for name in ("client", "clientsan", "server", "selfclient", "ca", "rsa", "bidi", "c1", "utf8", "srvonly"):
            der = subprocess.run(["openssl", "x509", "-in", os.path.join(tmp, name + ".pem"),
                                  "-outform", "DER"], check=True, stdout=subprocess.PIPE).stdout
            ders[name] = der
            put(h, name + ".der", der)
        # embedded NUL in the subject emailAddress (signature no longer valid:
        # d2i_X509 does not check it): "client@test.example" -> "client\0test.example"
        der = ders["client"]
        at = der.find(b"client@test.example")
        if at >= 0:
            put(h, "client-subject-email-nul.der", der[:at + 6] + b"\0" + der[at + 7:])
        # the same in the subjectAltName only (clientsan has no subject e-mail)
        der = ders["clientsan"]
        at = der.find(b"san@test.example")
        if at >= 0:
            put(h, "clientsan-san-email-nul.der", der[:at + 3] + b"\0" + der[at + 4:])
    finally:
        shutil.rmtree(tmp)


def pemsplit():
    h = "pemsplit"
    tmp = tempfile.mkdtemp(prefix="mkcorpus.")
    try:
        subprocess.run(["bash", os.path.join(TOP, "tests", "pki.sh"), tmp], check=True,
                       stdout=subprocess.DEVNULL)
        rd = lambda n: open(os.path.join(tmp, n), "rb").read()
        put(h, "combined.pem", rd("combined.pem"))
        put(h, "servercert.pem", rd("servercert.pem"))
        put(h, "key-only.pem", rd("server.key"))
        def run(*args):
            return subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL).stdout
        key = os.path.join(tmp, "server.key")
        put(h, "encrypted-pkcs8.pem", run("pkey", "-in", key, "-aes128", "-passout", "pass:x"))
        put(h, "encrypted-traditional.pem", run("ec", "-in", key, "-aes128", "-passout", "pass:x"))
        put(h, "ecparams-and-key.pem", run("ecparam", "-name", "prime256v1", "-genkey"))
        put(h, "nested.pem", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----BEGIN PRIVATE KEY-----\nBBBB\n"
                             b"-----END PRIVATE KEY-----\n-----END CERTIFICATE-----\n")
        put(h, "crlf-noeol.pem", b"-----BEGIN CERTIFICATE-----\r\nAAAA\r\n-----END CERTIFICATE-----")
        put(h, "truncated.pem", rd("combined.pem")[:300])
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    os.chdir(TOP)
    for f in (ctlmsg, envblock, client_reply, options_env, cert_email, pemsplit):
        d = os.path.join(OUT, f.__name__)
        if os.path.isdir(d):
            shutil.rmtree(d)
        f()
    print("seed corpus written to", OUT)
