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
#   make deb / npm / wheel / pkgtest   packages (see the packaging section)

SHELL := /bin/bash
CC ?= cc
PREFIX ?= /usr/local
SQLITE3 ?= sqlite3
PKGS := sqlite3 jansson yaml-0.1 libpcre2-8 libxxhash libcrypto
DEB_PKGS := build-essential pkg-config sqlite3 libsqlite3-dev libjansson-dev libyaml-dev \
            libpcre2-dev libcmocka-dev libxxhash-dev libssl-dev valgrind python3 python3-yaml sqlite-utils clang libclang-rt-dev \
            libcurl4-openssl-dev openssl
VERSION := $(shell sed -n 's/^\#define VOXTELEM_VERSION "\(.*\)"/\1/p' include/voxtelem.h)

# The conformance suites (JSON Schema test suite, RFC 8259 parsing suite):
# $$VOXTELEM_CONFORMANCE, else the pinned submodules under
# tests/conformance/suites/, else ../shared/conformance (tools/conformance-dir.sh).
# None present: the steps that need them say they were skipped, except
# under CI=true, where ../shared is always beside the clone.
VOXTELEM_CONFORMANCE := $(shell tools/conformance-dir.sh)
ifneq ($(.SHELLSTATUS),0)
$(error VOXTELEM_CONFORMANCE is set but holds no suites)
endif
ifeq ($(CI)$(VOXTELEM_CONFORMANCE),true)
$(error CI=true but no conformance suites were found (expected ../shared/conformance))
endif
export VOXTELEM_CONFORMANCE

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-missing-field-initializers
BASE_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -fPIC -fvisibility=hidden $(WARN) -Iext -Iinclude
OPT ?= -O2 -g
CFLAGS_ALL = $(BASE_CFLAGS) $(OPT) $(PKG_CFLAGS) $(CFLAGS)
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

EXT_SRC := $(sort $(wildcard ext/*.c ext/*/*.c))
CONTRACT_FILES := $(shell find contracts -type f ! -name '.*' 2>/dev/null | sort)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=build/%)
ASAN_BIN := $(UNIT_SRC:tests/unit/%.c=build/asan/%)
SQL_TESTS := $(sort $(wildcard tests/sql/*.sql))
SH_TESTS := $(sort $(wildcard tests/sh/*.sh))
BENCHES := $(filter-out bench/scale_%,$(sort $(wildcard bench/*.sh)))
SCALE_BENCHES := $(sort $(wildcard bench/scale_*.sh))

# The uploader (upload/): the only networked code, and the only user of
# libcurl (docs/adr/0006-uploader-is-a-separate-binary.md).
UPLOADER := build/voxtelem-upload
UPLOAD_LIBS = $(shell pkg-config --libs libcurl libcrypto 2>/dev/null)

.PHONY: all deps demo test check unit sqltest shtest exports bench install clean \
        check-asan check-asan-sh check-valgrind check-drift conformance bench-scale
.DELETE_ON_ERROR:

all: voxtelem.so $(UPLOADER)

# ---- build ------------------------------------------------------------------
# Every object is built by one rule per variant (OBJ_RULES); -MMD -MP write
# header dependencies beside each object, included at the end.

build/embed: tools/embed.c
	@mkdir -p build
	$(CC) -O2 -Wall -Wextra -Werror -o $@ $<

build/contracts_embedded.c: build/embed $(CONTRACT_FILES)
	build/embed contracts $@

# $(1): object folder; $(2): compiler and flags.
define OBJ_RULES
$(1)/%.o: ext/%.c
	@mkdir -p $$(@D)
	@echo "  CC  $$@"; $(2) -MMD -MP -c -o $$@ $$<
$(1)/contracts_embedded.o: build/contracts_embedded.c
	@mkdir -p $$(@D)
	@echo "  CC  $$@"; $(2) -MMD -MP -c -o $$@ $$<
endef
objs = $(EXT_SRC:ext/%.c=$(1)/%.o) $(1)/contracts_embedded.o

# so: the loadable extension; lib: the same sources linked with libsqlite3
# (unit tests, tools, libvoxtelem.a); asan/*: both with ASan+UBSan.
$(eval $(call OBJ_RULES,build/so,$(CC) $(CFLAGS_ALL)))
$(eval $(call OBJ_RULES,build/lib,$(CC) $(CFLAGS_ALL) -DTELEM_NO_EXT))
$(eval $(call OBJ_RULES,build/asan/so,$(CC) $(CFLAGS_ALL) $(SAN) -O1))
$(eval $(call OBJ_RULES,build/asan/lib,$(CC) $(CFLAGS_ALL) $(SAN) -O1 -DTELEM_NO_EXT))

voxtelem.so: $(call objs,build/so)
	$(CC) -shared -o $@ $^ $(PKG_LIBS) -Wl,--no-undefined -lm
build/asan/voxtelem.so: $(call objs,build/asan/so)
	$(CC) -shared $(SAN) -o $@ $^ $(PKG_LIBS) -lm

build/lib/libtelem.a: $(call objs,build/lib)
	rm -f $@ && ar rcs $@ $^
build/asan/libtelem.a: $(call objs,build/asan/lib)
	rm -f $@ && ar rcs $@ $^

# The uploader links the engines (build/lib/libtelem.a) for ack, requeue,
# status and export, and libcurl + libcrypto for HTTPS and HMAC-SHA256.
$(UPLOADER): upload/voxtelem-upload.c build/lib/libtelem.a
	$(CC) $(CFLAGS_ALL) -DTELEM_NO_EXT -MMD -MP -o $@ $< build/lib/libtelem.a $(PKG_LIBS) $(UPLOAD_LIBS) -lm

build/test_%: tests/unit/test_%.c build/lib/libtelem.a
	$(CC) $(CFLAGS_ALL) -DTELEM_NO_EXT -MMD -MP -o $@ $< build/lib/libtelem.a $(PKG_LIBS) -lcmocka -lm
build/asan/test_%: tests/unit/test_%.c build/asan/libtelem.a
	@mkdir -p build/asan
	$(CC) $(CFLAGS_ALL) $(SAN) -O1 -DTELEM_NO_EXT -MMD -MP -o $@ $< build/asan/libtelem.a $(PKG_LIBS) -lcmocka -lm

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
	@# The pinned conformance suites, when the network allows (never required).
	@if [ -e .git ] && [ -z "$$(ls -A tests/conformance/suites/json-schema-test-suite 2>/dev/null)" ]; then \
	  if GIT_TERMINAL_PROMPT=0 timeout 120 git submodule update --init --depth 1 -q 2>/dev/null; \
	  then echo "deps: conformance submodules fetched"; \
	  else echo "deps: conformance submodules not fetched (offline?); tests use \$$VOXTELEM_CONFORMANCE or ../shared/conformance"; fi; \
	fi

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

# JSON Schema test suite and the RFC 8259 parsing suite, read from
# $(VOXTELEM_CONFORMANCE) (see above).
build/conformance: tests/conformance/runner.c build/lib/libtelem.a
	$(CC) $(CFLAGS_ALL) -DTELEM_NO_EXT -MMD -MP -o $@ $< build/lib/libtelem.a $(PKG_LIBS) -lm

conformance: build/conformance
	build/conformance

# SQL golden tests: stderr merged, the shell's error prefix normalised, exit
# status ignored (errors are part of the expected output).
SQL_NORMALISE := sed -E 's/^(Parse|Runtime) error near line [0-9]+: /Error: /; s/^Error: near line [0-9]+: /Error: /'

# $(call SQL_GOLDEN,<extension path>,<output folder>,<label>,<environment>):
# every tests/sql/*.sql through the shell, diffed against its .expected.
define SQL_GOLDEN
	@mkdir -p $(2); fail=0; for t in $(SQL_TESTS); do \
	  out=$(2)/$$(basename $$t .sql).out; \
	  $(4) $(SQLITE3) -batch -cmd '.load $(1)' :memory: < $$t 2>&1 | $(SQL_NORMALISE) > $$out; \
	  if diff -u $${t%.sql}.expected $$out > $$out.diff; then echo "ok   $(3)$$t"; \
	  else echo "FAIL $(3)$$t"; head -60 $$out.diff; fail=1; fi; \
	done; exit $$fail
endef

# Every query of a golden test selects a label first, so a failing line
# names its query (tools/golden_labels.py --apply writes them).
sqltest: voxtelem.so
	@/usr/bin/python3 tools/golden_labels.py --check $(SQL_TESTS)
	$(call SQL_GOLDEN,./voxtelem,build/sqlout,,)

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
	$(CC) $(CFLAGS_ALL) $(SAN) -O1 -DTELEM_NO_EXT -MMD -MP -o $@ $< build/asan/libtelem.a $(PKG_LIBS) -lm

ASAN_ENV = LD_PRELOAD=$(ASAN_RT) ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1
check-asan: $(ASAN_BIN) build/asan/voxtelem.so build/asan/conformance
	@set -e; for t in $(ASAN_BIN); do echo "== $$t"; ASAN_OPTIONS=detect_leaks=1 $$t; done
	@echo "== build/asan/conformance"; ASAN_OPTIONS=detect_leaks=1 build/asan/conformance
	$(call SQL_GOLDEN,./build/asan/voxtelem,build/asan/sqlout,asan ,$(ASAN_ENV))

# Shell tests with the sanitized .so preloaded into python3 and sqlite3.
# rss_flat (ASan's quarantine is not the extension's memory) and c_api (it
# builds its own program) are left to make test, and so is hostile_schema:
# the sqlite3 3.40 shell itself reads out of bounds when it points at an
# error inside a schema object (ASan stops the shell, not voxtelem), and its
# 1,200 sessions take many minutes under ASan; fuzz_hostile_schema runs the
# same attacks on the sanitized extension.
ASAN_SH_TESTS := $(filter-out tests/sh/rss_flat.sh tests/sh/c_api.sh tests/sh/hostile_schema.sh,$(SH_TESTS))
# The uploader, sanitized (it is a program of ours, not a host).
build/asan/voxtelem-upload: upload/voxtelem-upload.c build/asan/libtelem.a
	@mkdir -p build/asan
	$(CC) $(CFLAGS_ALL) $(SAN) -O1 -DTELEM_NO_EXT -MMD -MP -o $@ $< build/asan/libtelem.a $(PKG_LIBS) $(UPLOAD_LIBS) -lm

check-asan-sh: build/asan/voxtelem.so build/asan/voxtelem-upload
	@fail=0; for t in $(ASAN_SH_TESTS); do \
	  if $(ASAN_ENV) VOXTELEM_SO=$$PWD/build/asan/voxtelem.so VOXTELEM_UPLOAD=$$PWD/build/asan/voxtelem-upload \
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

# Each dimension grown by 10x steps: the ratio to its baseline per step, and
# FLAG where the cost per unit grows more than 2x from one step to the next.
bench-scale: voxtelem.so
	@set -e; for b in $(SCALE_BENCHES); do echo "== $$b"; VOXTELEM_SO=$$PWD/voxtelem.so SQLITE3=$(SQLITE3) bash $$b; done

# ---- install ----------------------------------------------------------------

# The .so exports only its entry point; C programs that use the engines
# directly (include/voxtelem.h) link the static library libvoxtelem.a.
# LIBDIR (packaging section below): $(PREFIX)/lib, or Debian's multiarch
# directory when PREFIX is /usr -- the one where `.load voxtelem` needs no path.
install: voxtelem.so build/lib/libtelem.a $(UPLOADER)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(LIBDIR)/pkgconfig \
	  $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(UPLOADER) $(DESTDIR)$(PREFIX)/bin/voxtelem-upload
	install -m 0755 voxtelem.so $(DESTDIR)$(LIBDIR)/voxtelem.so
	install -m 0644 build/lib/libtelem.a $(DESTDIR)$(LIBDIR)/libvoxtelem.a
	install -m 0644 include/voxtelem.h $(DESTDIR)$(PREFIX)/include/voxtelem.h
	install -d $(DESTDIR)$(PREFIX)/share/voxtelem/schema
	install -m 0644 sql/prune.sql sql/guards.sql sql/governance.sql $(DESTDIR)$(PREFIX)/share/voxtelem/
	install -m 0644 sql/schema/*.sql $(DESTDIR)$(PREFIX)/share/voxtelem/schema/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@VERSION@|$(VERSION)|g' voxtelem.pc.in \
	  > $(DESTDIR)$(LIBDIR)/pkgconfig/voxtelem.pc

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
FUZZ_OBJ := $(filter-out build/fuzz/obj/voxtelem.o,$(call objs,build/fuzz/obj))

FUZZ_OBJ_CC = $(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) $(PKG_CFLAGS)
$(eval $(call OBJ_RULES,build/fuzz/obj,$(FUZZ_OBJ_CC)))

.SECONDARY: $(FUZZ_OBJ)
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ)
	@mkdir -p build/fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) $(PKG_CFLAGS) -MMD -MP -o $@ $< $(FUZZ_OBJ) $(PKG_LIBS) -lm

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

# Header dependencies written by -MMD -MP.
-include $(shell find build -name '*.d' 2>/dev/null)

# ==== packaging (issue 15) ===================================================
# Packages of the same voxtelem.so; their tests (tests/pkg/) run from make test.
#
#   make deb      build/voxtelem_<version>_<arch>.deb (dpkg-deb): the .so in
#                 Debian's multiarch library directory, where `.load voxtelem`
#                 finds it with no path; header, pkg-config, SQL scripts, docs,
#                 voxtelem-prune and its cron / systemd timer examples
#   make npm      build/voxtelem-<version>.tgz (npm pack): the .so for linux-x64
#                 and getLoadablePath() / load(db) for better-sqlite3 and libsql
#   make wheel    build/dist/voxtelem-<version>-py3-none-linux_<arch>.whl
#                 (python3 -m build, Debian's python3-build): loadable_path(), load(conn)
#   make pkgtest  the package tests (the deb test needs root; the npm test skips
#                 with one line when npm or its registry is not there)
#
# make install: LIBDIR defaults to $(PREFIX)/lib, and to the multiarch
# directory for PREFIX=/usr (as CMake's GNUInstallDirs does on Debian).

.PHONY: deb npm wheel pkgtest install-prune

MULTIARCH := $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || $(CC) -print-multiarch 2>/dev/null)
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
LIBDIR ?= $(if $(filter /usr /usr/,$(PREFIX)),$(PREFIX)/lib/$(MULTIARCH),$(PREFIX)/lib)
HOST_PYTHON := /usr/bin/python3
WHEEL_PLAT := linux_$(shell uname -m)

DEB := build/voxtelem_$(VERSION)_$(DEB_ARCH).deb
NPM_TGZ := build/voxtelem-$(VERSION).tgz
WHEEL := build/dist/voxtelem-$(VERSION)-py3-none-$(WHEEL_PLAT).whl
PKG_TESTS := $(sort $(wildcard tests/pkg/*.sh))
DEB_PKGS += dpkg-dev python3-build python3-setuptools python3-wheel python3-venv python3-pip

# The scheduled prune wrapper goes with the scripts make install puts in
# $(PREFIX)/share/voxtelem; it finds prune.sql there.
install: install-prune
install-prune:
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 tools/voxtelem-prune $(DESTDIR)$(PREFIX)/bin/voxtelem-prune

deb: $(DEB)
$(DEB): voxtelem.so build/lib/libtelem.a include/voxtelem.h voxtelem.pc.in tools/voxtelem-prune \
        $(wildcard sql/*.sql sql/schema/*.sql packaging/debian/* packaging/examples/* packaging/man/*) \
        README.md CHANGELOG.md $(shell find docs -name '*.md' 2>/dev/null)
	MAKE="$(MAKE)" VERSION=$(VERSION) DEB_ARCH=$(DEB_ARCH) MULTIARCH=$(MULTIARCH) \
	  sh packaging/debian/build-deb.sh $@ build/deb/root

npm: $(NPM_TGZ)
$(NPM_TGZ): voxtelem.so $(wildcard packaging/npm/*) README.md
	@rm -rf build/npm/pkg && mkdir -p build/npm/pkg/lib/linux-x64
	cp packaging/npm/index.js packaging/npm/index.d.ts packaging/npm/README.md build/npm/pkg/
	sed 's/@VERSION@/$(VERSION)/' packaging/npm/package.json.in > build/npm/pkg/package.json
	install -m 0644 voxtelem.so build/npm/pkg/lib/linux-x64/voxtelem.so
	strip --strip-unneeded build/npm/pkg/lib/linux-x64/voxtelem.so
	cd build/npm/pkg && npm pack --silent --pack-destination .. > /dev/null
	mv build/npm/voxtelem-$(VERSION).tgz $@

wheel: $(WHEEL)
$(WHEEL): voxtelem.so $(wildcard packaging/python/* packaging/python/voxtelem/*)
	@rm -rf build/wheel && mkdir -p build/wheel build/dist
	cp -r packaging/python build/wheel/src
	sed -i 's/@VERSION@/$(VERSION)/' build/wheel/src/pyproject.toml build/wheel/src/voxtelem/__init__.py
	install -m 0644 voxtelem.so build/wheel/src/voxtelem/voxtelem.so
	strip --strip-unneeded build/wheel/src/voxtelem/voxtelem.so
	cd build/wheel/src && $(HOST_PYTHON) -m build --no-isolation --wheel --outdir ../../dist . > ../build.log 2>&1 \
	  || { tail -20 ../build.log; exit 1; }
	@test -f $@ || { echo "wheel: expected $@, got: $$(ls build/dist)"; exit 1; }

# npm is optional: without it the npm test says so in one line.
pkgtest: voxtelem.so $(DEB) $(WHEEL) $(if $(shell command -v npm),$(NPM_TGZ))
	@fail=0; for t in $(PKG_TESTS); do log=build/pkg-$$(basename $$t .sh).log; \
	  VOXTELEM_SO=$$PWD/voxtelem.so VOXTELEM_DEB=$$PWD/$(DEB) VOXTELEM_WHEEL=$$PWD/$(WHEEL) \
	  VOXTELEM_NPM=$$PWD/$(NPM_TGZ) VOXTELEM_VERSION=$(VERSION) SQLITE3=$(SQLITE3) bash $$t > $$log 2>&1; rc=$$?; \
	  if [ $$rc = 0 ]; then echo "ok   $$t"; \
	  elif [ $$rc = 77 ]; then echo "skip $$t: $$(tail -1 $$log)"; \
	  else echo "FAIL $$t"; tail -30 $$log; fail=1; fi; \
	done; exit $$fail

test: pkgtest
