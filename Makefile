# voxtelem -- SQLite extension that governs telemetry tables from SQL.
#
#   make            build ./voxtelem.so
#   make deps       install the Debian packages the build and tests need
#   make demo       build, then run the demo on the embedded contracts
#   make test       unit tests, SQL golden tests, shell tests, conformance, drift guards
#   make check      the tests again under ASan+UBSan, the SQL tests under valgrind,
#                   and a 30-second smoke run of every fuzz target
#   make fuzz FUZZ_SECONDS=N   every fuzz target for N seconds
#   make bench      benchmarks (ratios against baselines measured in the same run)
#   make install PREFIX=/usr/local

SHELL := /bin/bash
CC ?= cc
PREFIX ?= /usr/local
SQLITE3 ?= sqlite3
PKGS := sqlite3 jansson yaml-0.1 libpcre2-8 libxxhash
DEB_PKGS := build-essential pkg-config sqlite3 libsqlite3-dev libjansson-dev libyaml-dev \
            libpcre2-dev libcmocka-dev libxxhash-dev valgrind python3 python3-yaml sqlite-utils clang libclang-rt-dev \
            libcurl4-openssl-dev libssl-dev openssl
VERSION := $(shell sed -n 's/^\#define VOXTELEM_VERSION "\(.*\)"/\1/p' include/voxtelem.h)

# The shared conformance suites (JSON Schema test suite, RFC 8259 parsing suite).
VOXTELEM_CONFORMANCE ?= $(abspath ../shared/conformance)
export VOXTELEM_CONFORMANCE

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-missing-field-initializers
BASE_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -fPIC -fvisibility=hidden $(WARN) -Iext -Iinclude
OPT ?= -O2 -g
CFLAGS_ALL = $(BASE_CFLAGS) $(OPT) $(PKG_CFLAGS) $(CFLAGS)
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

EXT_SRC := $(sort $(wildcard ext/*.c))
EXT_HDR := ext/internal.h include/voxtelem.h
CONTRACT_FILES := $(shell find contracts -type f ! -name '.*' 2>/dev/null | sort)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=build/%)
ASAN_BIN := $(UNIT_SRC:tests/unit/%.c=build/asan/%)
SQL_TESTS := $(sort $(wildcard tests/sql/*.sql))
SH_TESTS := $(sort $(wildcard tests/sh/*.sh))
BENCHES := $(sort $(wildcard bench/*.sh))

# The uploader (upload/): the only networked code, and the only user of
# libcurl and libcrypto (docs/adr/0006-uploader-is-a-separate-binary.md).
UPLOADER := build/voxtelem-upload
UPLOAD_LIBS = $(shell pkg-config --libs libcurl libcrypto 2>/dev/null)

.PHONY: all deps demo test check unit sqltest shtest exports bench install clean \
        check-asan check-asan-sh check-valgrind check-drift conformance
.DELETE_ON_ERROR:

all: voxtelem.so $(UPLOADER)

# ---- build ------------------------------------------------------------------

build/embed: tools/embed.c
	@mkdir -p build
	$(CC) -O2 -Wall -Wextra -Werror -o $@ $<

build/contracts_embedded.c: build/embed $(CONTRACT_FILES)
	build/embed contracts $@

build/so/%.o: ext/%.c $(EXT_HDR)
	@mkdir -p build/so
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

build/so/contracts_embedded.o: build/contracts_embedded.c
	@mkdir -p build/so
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

SO_OBJ := $(EXT_SRC:ext/%.c=build/so/%.o) build/so/contracts_embedded.o

voxtelem.so: $(SO_OBJ)
	$(CC) -shared -o $@ $(SO_OBJ) $(PKG_LIBS) -Wl,--no-undefined -lm

# The uploader links the engines (build/lib/libtelem.a) for ack, requeue,
# status and export, and libcurl + libcrypto for HTTPS and HMAC-SHA256.
$(UPLOADER): upload/voxtelem-upload.c build/lib/libtelem.a $(EXT_HDR)
	$(CC) $(CFLAGS_ALL) -DTELEM_NO_EXT -o $@ $< build/lib/libtelem.a $(PKG_LIBS) $(UPLOAD_LIBS) -lm

# The same sources for the unit tests, linked with libsqlite3 directly.
build/lib/%.o: ext/%.c $(EXT_HDR)
	@mkdir -p build/lib
	$(CC) $(CFLAGS_ALL) -DTELEM_NO_EXT -c -o $@ $<

build/lib/contracts_embedded.o: build/contracts_embedded.c
	@mkdir -p build/lib
	$(CC) $(CFLAGS_ALL) -DTELEM_NO_EXT -c -o $@ $<

LIB_OBJ := $(EXT_SRC:ext/%.c=build/lib/%.o) build/lib/contracts_embedded.o
build/lib/libtelem.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $(LIB_OBJ)

build/test_%: tests/unit/test_%.c tests/unit/unit.h build/lib/libtelem.a
	$(CC) $(CFLAGS_ALL) -DTELEM_NO_EXT -o $@ $< build/lib/libtelem.a $(PKG_LIBS) -lcmocka -lm

# Sanitizer builds: the same objects with ASan+UBSan.
build/asan/lib/%.o: ext/%.c $(EXT_HDR)
	@mkdir -p build/asan/lib
	$(CC) $(CFLAGS_ALL) $(SAN) -O1 -DTELEM_NO_EXT -c -o $@ $<
build/asan/lib/contracts_embedded.o: build/contracts_embedded.c
	@mkdir -p build/asan/lib
	$(CC) $(CFLAGS_ALL) $(SAN) -O1 -DTELEM_NO_EXT -c -o $@ $<
ASAN_LIB_OBJ := $(EXT_SRC:ext/%.c=build/asan/lib/%.o) build/asan/lib/contracts_embedded.o
build/asan/libtelem.a: $(ASAN_LIB_OBJ)
	rm -f $@ && ar rcs $@ $(ASAN_LIB_OBJ)
build/asan/test_%: tests/unit/test_%.c tests/unit/unit.h build/asan/libtelem.a
	@mkdir -p build/asan
	$(CC) $(CFLAGS_ALL) $(SAN) -O1 -DTELEM_NO_EXT -o $@ $< build/asan/libtelem.a $(PKG_LIBS) -lcmocka -lm

build/asan/so/%.o: ext/%.c $(EXT_HDR)
	@mkdir -p build/asan/so
	$(CC) $(CFLAGS_ALL) $(SAN) -O1 -c -o $@ $<
build/asan/so/contracts_embedded.o: build/contracts_embedded.c
	@mkdir -p build/asan/so
	$(CC) $(CFLAGS_ALL) $(SAN) -O1 -c -o $@ $<
ASAN_SO_OBJ := $(EXT_SRC:ext/%.c=build/asan/so/%.o) build/asan/so/contracts_embedded.o
build/asan/voxtelem.so: $(ASAN_SO_OBJ)
	$(CC) -shared $(SAN) -o $@ $(ASAN_SO_OBJ) $(PKG_LIBS) -lm

# ---- dependencies -----------------------------------------------------------

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	else echo "deps: all installed"; fi

# ---- demo -------------------------------------------------------------------

demo: voxtelem.so
	@rm -f build/demo.db
	@mkdir -p build
	$(SQLITE3) -batch build/demo.db < sql/demo.sql

# ---- tests ------------------------------------------------------------------

test: all unit sqltest shtest exports conformance check-drift
	@echo "make test: all passed"

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

# JSON Schema test suite (draft7, draft2020-12; >= 99% each) and the RFC 8259
# parsing suite, read from $(VOXTELEM_CONFORMANCE) (default ../shared/conformance).
build/conformance: tests/conformance/runner.c build/lib/libtelem.a
	$(CC) $(CFLAGS_ALL) -DTELEM_NO_EXT -o $@ $< build/lib/libtelem.a $(PKG_LIBS) -lm

conformance: build/conformance
	build/conformance

# SQL golden tests: stderr merged, the shell's error prefix normalised, exit
# status ignored (errors are part of the expected output).
SQL_NORMALISE := sed -E 's/^(Parse|Runtime) error near line [0-9]+: /Error: /; s/^Error: near line [0-9]+: /Error: /'
SQL_RUN = $(SQLITE3) -batch -cmd '.load $(1)' :memory: < $(2) 2>&1 | $(SQL_NORMALISE)

sqltest: voxtelem.so
	@mkdir -p build/sqlout; fail=0; for t in $(SQL_TESTS); do \
	  out=build/sqlout/$$(basename $$t .sql).out; \
	  $(call SQL_RUN,./voxtelem,$$t) > $$out; \
	  if diff -u $${t%.sql}.expected $$out > $$out.diff; then echo "ok   $$t"; \
	  else echo "FAIL $$t"; cat $$out.diff; fail=1; fi; \
	done; exit $$fail

shtest: voxtelem.so $(UPLOADER)
	@fail=0; for t in $(SH_TESTS); do \
	  if VOXTELEM_SO=$$PWD/voxtelem.so VOXTELEM_UPLOAD=$$PWD/$(UPLOADER) SQLITE3=$(SQLITE3) bash $$t > build/$$(basename $$t).log 2>&1; \
	  then echo "ok   $$t"; else echo "FAIL $$t"; tail -30 build/$$(basename $$t).log; fail=1; fi; \
	done; exit $$fail

# Code, contracts and docs must agree (tools/check_drift.py says what differs).
check-drift: voxtelem.so
	@/usr/bin/python3 tools/check_drift.py --root . --so ./voxtelem.so

# Only the entry point may be exported from the .so.
exports: voxtelem.so
	@syms=$$(nm -D --defined-only voxtelem.so | awk '$$2 ~ /^[TDBR]$$/ {print $$3}' | sort); \
	if [ "$$syms" != "sqlite3_voxtelem_init" ]; then echo "unexpected exports: $$syms"; exit 1; fi; \
	echo "ok   exports: sqlite3_voxtelem_init only"

# ---- sanitizers and valgrind -----------------------------------------------

check: check-asan check-asan-sh check-valgrind fuzz-smoke
	@echo "make check: clean"

# A short run of every fuzz target from its seed corpus (make fuzz for long runs).
SMOKE_SECONDS ?= 30
fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(SMOKE_SECONDS)

ASAN_RT = $(shell $(CC) -print-file-name=libasan.so)
build/asan/conformance: tests/conformance/runner.c build/asan/libtelem.a
	$(CC) $(CFLAGS_ALL) $(SAN) -O1 -DTELEM_NO_EXT -o $@ $< build/asan/libtelem.a $(PKG_LIBS) -lm

check-asan: $(ASAN_BIN) build/asan/voxtelem.so build/asan/conformance
	@set -e; for t in $(ASAN_BIN); do echo "== $$t"; ASAN_OPTIONS=detect_leaks=1 $$t; done
	@echo "== build/asan/conformance"; ASAN_OPTIONS=detect_leaks=1 build/asan/conformance
	@mkdir -p build/asan/sqlout; fail=0; for t in $(SQL_TESTS); do \
	  out=build/asan/sqlout/$$(basename $$t .sql).out; \
	  LD_PRELOAD=$(ASAN_RT) ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1 \
	    $(SQLITE3) -batch -cmd '.load ./build/asan/voxtelem' :memory: < $$t 2>&1 | $(SQL_NORMALISE) > $$out; \
	  if diff -u $${t%.sql}.expected $$out > $$out.diff; then echo "ok   asan $$t"; \
	  else echo "FAIL asan $$t"; head -60 $$out.diff; fail=1; fi; \
	done; exit $$fail

# Shell tests with the sanitized .so preloaded into python3 and sqlite3.
# rss_flat (ASan's quarantine is not the extension's memory) and c_api (it
# builds its own program) are left to make test.
ASAN_SH_TESTS := $(filter-out tests/sh/rss_flat.sh tests/sh/c_api.sh,$(SH_TESTS))
# The uploader, sanitized, with leak checks (it is a program of ours, not a host).
build/asan/voxtelem-upload: upload/voxtelem-upload.c build/asan/libtelem.a $(EXT_HDR)
	@mkdir -p build/asan
	$(CC) $(CFLAGS_ALL) $(SAN) -O1 -DTELEM_NO_EXT -o $@ $< build/asan/libtelem.a $(PKG_LIBS) $(UPLOAD_LIBS) -lm

check-asan-sh: build/asan/voxtelem.so build/asan/voxtelem-upload
	@fail=0; for t in $(ASAN_SH_TESTS); do \
	  if LD_PRELOAD=$(ASAN_RT) ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1 \
	     VOXTELEM_SO=$$PWD/build/asan/voxtelem.so VOXTELEM_UPLOAD=$$PWD/build/asan/voxtelem-upload \
	     SQLITE3=$(SQLITE3) bash $$t > build/asan/$$(basename $$t).log 2>&1; \
	  then echo "ok   asan $$t"; else echo "FAIL asan $$t"; tail -30 build/asan/$$(basename $$t).log; fail=1; fi; \
	done; exit $$fail

VALGRIND := valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=all \
            --errors-for-leak-kinds=all --suppressions=tests/valgrind.supp
check-valgrind: voxtelem.so
	@mkdir -p build/vg; fail=0; for t in $(SQL_TESTS); do \
	  out=build/vg/$$(basename $$t .sql).out; \
	  $(VALGRIND) --log-file=build/vg/$$(basename $$t .sql).vg \
	    $(SQLITE3) -batch -cmd '.load ./voxtelem' :memory: < $$t > /dev/null 2>&1; \
	  if [ -s build/vg/$$(basename $$t .sql).vg ]; then echo "FAIL valgrind $$t"; \
	    head -80 build/vg/$$(basename $$t .sql).vg; fail=1; else echo "ok   valgrind $$t"; fi; \
	done; exit $$fail

# ---- bench ------------------------------------------------------------------

bench: voxtelem.so $(UPLOADER)
	@set -e; for b in $(BENCHES); do echo "== $$b"; VOXTELEM_SO=$$PWD/voxtelem.so VOXTELEM_UPLOAD=$$PWD/$(UPLOADER) SQLITE3=$(SQLITE3) bash $$b; done

# ---- install ----------------------------------------------------------------

# The .so exports only its entry point; C programs that use the engines
# directly (include/voxtelem.h) link the static library libvoxtelem.a.
install: voxtelem.so build/lib/libtelem.a $(UPLOADER)
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	  $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(UPLOADER) $(DESTDIR)$(PREFIX)/bin/voxtelem-upload
	install -m 0755 voxtelem.so $(DESTDIR)$(PREFIX)/lib/voxtelem.so
	install -m 0644 build/lib/libtelem.a $(DESTDIR)$(PREFIX)/lib/libvoxtelem.a
	install -m 0644 include/voxtelem.h $(DESTDIR)$(PREFIX)/include/voxtelem.h
	install -d $(DESTDIR)$(PREFIX)/share/voxtelem/schema
	install -m 0644 sql/prune.sql sql/guards.sql sql/governance.sql $(DESTDIR)$(PREFIX)/share/voxtelem/
	install -m 0644 sql/schema/*.sql $(DESTDIR)$(PREFIX)/share/voxtelem/schema/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' voxtelem.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/voxtelem.pc

clean:
	rm -rf build voxtelem.so

# ---- fuzzing (libFuzzer, clang) ---------------------------------------------
# make fuzz FUZZ_SECONDS=N runs every target in tests/fuzz/ for N seconds from
# its seed corpus (tests/fuzz/corpus/<target>/); new inputs go to build/fuzz/.
FUZZ_SECONDS ?= 30
FUZZ_CC ?= clang
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_SAN := address,undefined
FUZZ_FLAGS := -g -O1 -fno-sanitize-recover=undefined \
              -DTELEM_NO_EXT -std=c11 -D_DEFAULT_SOURCE -Iext -Iinclude
# The engines are compiled once with coverage instrumentation, then linked
# into every target.
FUZZ_OBJ := $(patsubst ext/%.c,build/fuzz/obj/%.o,$(filter-out ext/voxtelem.c,$(EXT_SRC))) \
            build/fuzz/obj/contracts_embedded.o

build/fuzz/obj/%.o: ext/%.c $(EXT_HDR)
	@mkdir -p build/fuzz/obj
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) $(PKG_CFLAGS) -c -o $@ $<
build/fuzz/obj/contracts_embedded.o: build/contracts_embedded.c
	@mkdir -p build/fuzz/obj
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) $(PKG_CFLAGS) -c -o $@ $<

.SECONDARY: $(FUZZ_OBJ)
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ) $(EXT_HDR)
	@mkdir -p build/fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) $(PKG_CFLAGS) -o $@ $< $(FUZZ_OBJ) $(PKG_LIBS) -lm

.PHONY: fuzz fuzz-build fuzz-smoke
fuzz-build: $(FUZZ_BIN)

fuzz: $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do t=$${f#build/fuzz/fuzz_}; \
	  mkdir -p build/fuzz/corpus-$$t; echo "== fuzz $$t for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix=build/fuzz/crash-$$t- \
	    build/fuzz/corpus-$$t tests/fuzz/corpus/$$t 2>&1 | grep -E '^#|stat::|ERROR|SUMMARY|crash' | tail -8; \
	  test $${PIPESTATUS[0]} -eq 0; \
	done
