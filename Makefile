# ucspi-tls build. Everything lands in $(B) (default build/); nothing is
# written elsewhere unless you say `make install`.
#   make             programs: $(B)/tlsserver $(B)/tlsclient
#   make test        install Debian dependencies (as root), build, run the suite
#   make check       the suite only, against what is built
#   make sanitize    the suite again under ASan+UBSan (build-asan/)
#   make cert        self-signed servercert.pem (certificate and key in one file)
#   make cert-req    key plus certificate request
#   make bench / make fuzz / make soak

B        ?= build
CC       ?= cc
PKG      ?= pkg-config
OPT      ?= -O2 -g
WERROR   ?= -Werror
SANITIZE ?=
WARN      = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter $(WERROR)
TLS_CFLAGS := $(shell $(PKG) --cflags libtls 2>/dev/null)
TLS_LIBS   := $(shell $(PKG) --libs libtls 2>/dev/null || echo -ltls)
CFLAGS_ALL = -std=c99 -D_GNU_SOURCE $(OPT) $(WARN) $(SANITIZE) -Isrc -Isrc/lib -Isrc/client -Isrc/engine $(TLS_CFLAGS) $(CFLAGS)
LDLIBS_ALL = $(TLS_LIBS) -lcrypto -lskarnet $(LDLIBS)
LDFLAGS_ALL = $(SANITIZE) $(LDFLAGS)
# make STATIC=1: link libtls, OpenSSL and skalibs (and libc) statically.
# Measured (doc/performance.md): about 2 ms less CPU per connection in
# chained mode. The price: relink after every OpenSSL security update.
ifeq ($(STATIC),1)
LDLIBS_ALL = -static $(TLS_LIBS) -lssl -lcrypto -lskarnet -lpthread $(LDLIBS)
endif

LIB_SRC   := $(wildcard src/lib/*.c src/engine/*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(B)/obj/%.o)
CLIENT_OBJ := $(B)/obj/src/client/ucspitls_client.o
PROGS     := $(patsubst src/%.c,$(B)/%,$(wildcard src/*.c))
FIXTURES  := $(patsubst tests/fixtures/%.c,$(B)/fixtures/%,$(wildcard tests/fixtures/*.c))
UNITS     := $(patsubst tests/unit/%.c,$(B)/unit/%,$(wildcard tests/unit/*.c))
BENCHES   := $(patsubst bench/%.c,$(B)/bench/%,$(wildcard bench/*.c))
HEADERS   := $(wildcard src/*.h src/lib/*.h src/client/*.h src/engine/*.h tests/fixtures/*.h)

.SECONDARY:
.PHONY: all programs test check sanitize valgrind cert cert-req bench bench-quick fuzz soak install clean deps
all: programs $(FIXTURES) $(UNITS) $(BENCHES)
programs: $(PROGS)

$(B)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<
$(B)/libucspitls.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@; ar rcs $@ $(LIB_OBJ)
$(B)/%: $(B)/obj/src/%.o $(B)/libucspitls.a
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(B)/libucspitls.a $(LDLIBS_ALL)
$(B)/fixtures/%: $(B)/obj/tests/fixtures/%.o $(CLIENT_OBJ) $(B)/libucspitls.a
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
# then the suite again under the sanitizers.
test: deps
	$(MAKE) all
	$(MAKE) check
	$(MAKE) check-qmail
	$(MAKE) sanitize

check: all
	UCSPI_TLS_BIN=$(CURDIR)/$(B) prove -j2 -r tests/

# The qmail patches against the real trees (tests/qmail/check-qmail).
check-qmail: all
	UCSPI_TLS_BIN=$(CURDIR)/$(B) bash tests/qmail/check-qmail

sanitize:
	$(MAKE) B=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  SANITIZE="-fsanitize=address,undefined -fno-sanitize-recover=undefined" all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=86 \
	  UCSPI_TLS_SANITIZED=1 UCSPI_TLS_BIN=$(CURDIR)/build-asan prove -j2 -r tests/

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
	sh package/install

clean:
	rm -rf build build-asan build-fuzz build-static
