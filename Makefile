# ucspi-tls build. Everything lands in $(B) (default build/); nothing is
# written elsewhere unless you say `make install`. Linux only (prctl,
# pipe2, accept4, SO_PEERCRED): see README.
#   make               the programs: $(B)/tlsserver $(B)/tlsclient $(B)/tlsd $(B)/tlsdserver
#   make test          install Debian dependencies (as root), build with
#                      -Werror, run check, check-long, sanitize, check-qmail
#   make check         the functional suite (about a minute)
#   make check-long    fuzzing, soak, flood, exhaustion, valgrind, the build
#                      conventions and the install scripts
#   make sanitize      check and check-long again under ASan+UBSan (build-asan/)
#   make check-qmail   the qmail patches, against trees built from ../shared/qmail
#   make install / uninstall    under PREFIX (default: first line of conf-home)
#   make cert / cert-req / bench / bench-quick / fuzz / soak

B        ?= build
CC       ?= cc
PKG      ?= pkg-config
OPT      ?= -O2 -g
# Warnings are errors in the test and CI builds (make test, check,
# sanitize), not in a packager's build, where a newer compiler's new
# warning must not stop the install.
WERROR   ?=
SANITIZE ?=
VERSION  := $(shell sed -n 1p version)
WARN      = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter $(WERROR)
TLS_CFLAGS := $(shell $(PKG) --cflags libtls 2>/dev/null)
TLS_LIBS   := $(shell $(PKG) --libs libtls 2>/dev/null || echo -ltls)
CPPFLAGS_ALL = -D_GNU_SOURCE -DUCSPITLS_VERSION='"$(VERSION)"' -Isrc -Isrc/lib -Isrc/engine -Isrc/client $(TLS_CFLAGS) $(CPPFLAGS)
CFLAGS_ALL = -std=c99 $(OPT) $(WARN) $(SANITIZE) $(CFLAGS)
LDLIBS_ALL = $(TLS_LIBS) -lssl -lcrypto -lskarnet $(LDLIBS)
LDFLAGS_ALL = $(SANITIZE) $(LDFLAGS)
# make STATIC=1: link libtls, OpenSSL and skalibs (and libc) statically.
# Measured (doc/performance.md): about 2 ms less CPU per connection in
# chained mode. The price: relink after every OpenSSL security update.
ifeq ($(STATIC),1)
LDLIBS_ALL = -static $(TLS_LIBS) -lssl -lcrypto -lskarnet -lpthread $(LDLIBS)
endif

# The engine's library; the application's helper (ucspitls_client, copied
# into qmail) is not part of it.
CLIENT_SRC := $(wildcard src/client/*.c src/lib/ucspitls_client.c)
LIB_SRC   := $(filter-out $(CLIENT_SRC),$(wildcard src/lib/*.c src/engine/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(B)/obj/%.o)
CLIENT_OBJ := $(CLIENT_SRC:%.c=$(B)/obj/%.o)
PROGS     := $(B)/tlsserver $(B)/tlsclient $(B)/tlsd $(B)/tlsdserver
FIXTURES  := $(patsubst tests/fixtures/%.c,$(B)/fixtures/%,$(wildcard tests/fixtures/*.c))

BENCHES   := $(patsubst bench/%.c,$(B)/bench/%,$(wildcard bench/*.c))
UNITS     := $(patsubst tests/unit/%.c,$(B)/unit/%,$(wildcard tests/unit/*.c))
HEADERS   := $(wildcard src/*.h src/lib/*.h src/engine/*.h src/client/*.h tests/fixtures/*.h)

# Where make was called: a relative DESTDIR is relative to it, even with
# make -C.
CALLDIR  := $(if $(PWD),$(PWD),$(CURDIR))
PREFIX   ?=

.SECONDARY:
.PHONY: programs all test check check-long check-qmail sanitize cert cert-req bench bench-quick fuzz soak install uninstall clean deps test-tools
programs: $(PROGS)
# Everything the suite and the benchmark run besides the programs.
test-tools: $(FIXTURES) $(UNITS) $(BENCHES)
all: programs test-tools

$(B)/obj/%.o: %.c $(HEADERS) version
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -c -o $@ $<
$(B)/libucspitls.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@; ar rcs $@ $(LIB_OBJ)
$(B)/%: $(B)/obj/src/%.o $(B)/libucspitls.a
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(B)/libucspitls.a $(LDLIBS_ALL)
# tlsd's front end links no TLS library: it starts in a fraction of a
# millisecond, and an OpenSSL update needs no relink of it. skalibs is
# linked statically (as skarnet.org's own programs are): one shared
# library less to map and relocate per connection, measured 0.5-0.7 ms
# (doc/performance.md). libc stays shared unless STATIC=1.
$(B)/tlsdserver: $(B)/obj/src/tlsdserver.o $(B)/libucspitls.a
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(B)/libucspitls.a $(if $(filter 1,$(STATIC)),-static -lskarnet,-Wl,-Bstatic -lskarnet -Wl,-Bdynamic) $(LDLIBS)
$(B)/fixtures/%: $(B)/obj/tests/fixtures/%.o $(B)/libucspitls.a $(CLIENT_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(CLIENT_OBJ) $(B)/libucspitls.a $(LDLIBS_ALL)
$(B)/unit/%: $(B)/obj/tests/unit/%.o $(B)/libucspitls.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(B)/libucspitls.a $(LDLIBS_ALL)
$(B)/bench/%: $(B)/obj/bench/%.o $(B)/libucspitls.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(B)/libucspitls.a $(LDLIBS_ALL) -lpthread

deps:
	sh package/deps

# The README's test command: dependencies, warning-free build, the suite,
# the long checks, both again under the sanitizers, the qmail patches.
test: deps
	$(MAKE) WERROR=-Werror all
	$(MAKE) WERROR=-Werror check
	$(MAKE) WERROR=-Werror check-long
	$(MAKE) WERROR=-Werror sanitize
	$(MAKE) WERROR=-Werror check-qmail

PROVE = prove -j2 --timer
check: all
	UCSPI_TLS_BIN=$(CURDIR)/$(B) $(PROVE) tests/*.t
check-long: all
	UCSPI_TLS_BIN=$(CURDIR)/$(B) $(PROVE) tests/long/*.t

ASAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=86 \
  UCSPI_TLS_SANITIZED=1 UCSPI_TLS_BIN=$(CURDIR)/build-asan
sanitize:
	$(MAKE) B=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  SANITIZE="-fsanitize=address,undefined -fno-sanitize-recover=undefined" all
	$(ASAN_ENV) $(PROVE) tests/*.t tests/long/*.t

# The qmail patches against the real trees built from ../shared/qmail
# (tests/qmail/check-qmail; QMAIL_SRC= tests your own tree).
check-qmail: all
	UCSPI_TLS_BIN=$(CURDIR)/$(B) bash tests/qmail/check-qmail

cert:
	sh package/cert
cert-req:
	sh package/cert-req

# Each installs its Debian packages first (as root), like `make test`:
# they must run on a fresh machine.
bench: deps
	$(MAKE) all
	sh bench/run
bench-quick: deps
	$(MAKE) all
	BENCH_QUICK=1 sh bench/run
fuzz: deps
	sh fuzz/run
soak: deps
	$(MAKE) all
	sh tests/soak/run

install: programs
	B=$(B) PROGS="$(notdir $(PROGS))" PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" CALLDIR="$(CALLDIR)" sh package/install
uninstall:
	PROGS="$(notdir $(PROGS))" PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" CALLDIR="$(CALLDIR)" sh package/install -u

clean:
	rm -rf build build-asan build-fuzz build-static
