# fundledger build. `make run` and `make check` are the two commands a user needs;
# both install missing Debian packages first (.ci/deps.sh), then build.

PKGS      := libpq libcrypto libxml-2.0 jansson libmicrohttpd gmp mpfr libargon2 liboath
TEST_PKGS := cmocka libcurl

CC      ?= gcc
OPT     ?= -O2
BUILD   ?= build
CFLAGS_BASE := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
	-Wall -Wextra -Werror -Wpedantic -Wshadow -Wstrict-prototypes -Wformat=2 \
	-g $(OPT) -Iinclude -MMD -MP -pthread
ifeq ($(SANITIZE),1)
CFLAGS_BASE += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDSAN := -fsanitize=address,undefined
BUILD := build/san
endif

# pkg-config is asked lazily (recursive =) so that `make run` on a fresh machine can
# install the packages before anything asks for their flags.
PKG_CFLAGS  = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS    = $(shell pkg-config --libs $(PKGS))
TEST_CFLAGS = $(shell pkg-config --cflags $(TEST_PKGS))
TEST_LIBS   = $(shell pkg-config --libs $(TEST_PKGS))

SRC      := $(sort $(shell find src -name '*.c'))
MAIN_SRC := src/cli/main.c
LIB_SRC  := $(filter-out $(MAIN_SRC),$(SRC))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
# The web console (src/web/, docs/console.md): its files compiled into the binary as one table.
WEB_FILES := $(sort $(filter-out src/web/index.html,$(wildcard src/web/*.js src/web/*.css src/web/*.html)))
LIB_OBJ  += $(BUILD)/obj/gen/web_assets.o
MAIN_OBJ := $(MAIN_SRC:%.c=$(BUILD)/obj/%.o)

SUPPORT_SRC := $(sort $(wildcard tests/support/*.c))
SUPPORT_OBJ := $(SUPPORT_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC    := $(sort $(wildcard tests/unit/test_*.c tests/db/test_*.c tests/http/test_*.c))
TEST_BIN    := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
BENCH_SRC   := $(sort $(wildcard tests/bench/*.c))
BENCH_BIN   := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

.PHONY: all deps run stop check test-bin bench lint valgrind clean

all: $(BUILD)/fundledger

deps:
	@bash .ci/deps.sh

# Build, start the private cluster, migrate, load the demo fund if empty, serve.
run: deps
	@$(MAKE) --no-print-directory all
	./$(BUILD)/fundledger serve --demo-if-empty

stop:
	@if [ -x $(BUILD)/fundledger ]; then ./$(BUILD)/fundledger db stop; else echo "nothing built"; fi

# Every test against a throwaway PostgreSQL cluster; nothing left running afterwards.
check: deps
	@$(MAKE) --no-print-directory test-bin
	@$(MAKE) --no-print-directory fuzz-bin
	@BUILD=$(BUILD) bash tests/run.sh

test-bin: $(BUILD)/fundledger $(TEST_BIN)

bench: $(BUILD)/fundledger $(BENCH_BIN)

$(BUILD)/libfundledger.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/fundledger: $(MAIN_OBJ) $(BUILD)/libfundledger.a
	$(CC) $(LDSAN) -pthread -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/obj/src/%.o: src/%.c
	@mkdir -p $(@D)
	@echo "  CC $<"; $(CC) $(CFLAGS_BASE) $(PKG_CFLAGS) -c -o $@ $<

$(BUILD)/gen/web_assets.c: src/web/embed.py src/web/index.html $(WEB_FILES)
	@mkdir -p $(@D)
	@echo "  GEN $@"; python3 src/web/embed.py $@ src/web/index.html $(WEB_FILES)

$(BUILD)/obj/gen/web_assets.o: $(BUILD)/gen/web_assets.c
	@mkdir -p $(@D)
	@echo "  CC $<"; $(CC) $(CFLAGS_BASE) -c -o $@ $<

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	@echo "  CC $<"; $(CC) $(CFLAGS_BASE) $(PKG_CFLAGS) $(TEST_CFLAGS) -Itests/support -c -o $@ $<

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(SUPPORT_OBJ) $(BUILD)/libfundledger.a
	@mkdir -p $(@D)
	$(CC) $(LDSAN) -pthread -o $@ $^ $(PKG_LIBS) $(TEST_LIBS) -lm

$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(SUPPORT_OBJ) $(BUILD)/libfundledger.a
	@mkdir -p $(@D)
	$(CC) $(LDSAN) -pthread -o $@ $^ $(PKG_LIBS) $(TEST_LIBS) -lm

lint:
	clang-format --dry-run --Werror $(SRC) $(shell find include tests -name '*.[ch]')
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr -Iinclude --suppress=missingIncludeSystem src

valgrind: test-bin
	@BUILD=$(BUILD) VALGRIND=1 bash tests/run.sh

clean:
	rm -rf build

# ---- Fuzzing (libFuzzer, hence clang). The library is compiled again with clang, coverage
# instrumentation, ASan and UBSan into build/fuzz; each tests/fuzz/fuzz_<name>.c is one harness
# with its seed corpus in tests/fuzz/corpus/<name>/. `make fuzz` runs every harness (or those
# matching FUZZ=<fragment>) for FUZZ_SECONDS each; new inputs go to build/fuzz/corpus/<name>/,
# crashes to build/fuzz/artifacts/. `make check` builds them and runs each for a few seconds.
FUZZ_CC      ?= clang
FUZZ_BUILD   := build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS   = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Werror \
	-Wno-unused-command-line-argument -g -O2 -Iinclude -MMD -MP -pthread $(FUZZ_SAN) $(PKG_CFLAGS)
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN     := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(FUZZ_SRC))
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)

.PHONY: fuzz fuzz-bin

fuzz-bin: $(FUZZ_BIN)

fuzz: deps
	@$(MAKE) --no-print-directory fuzz-bin
	@set -e; for b in $(FUZZ_BIN); do \
	  h=$$(basename $$b); n=$${h#fuzz_}; \
	  case "$$h" in *$(FUZZ)*) ;; *) continue ;; esac; \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$n $(FUZZ_BUILD)/artifacts; \
	  echo "fuzz $$h: $(FUZZ_SECONDS) s"; \
	  FUNDLEDGER_SHARED_DIR=$${FUNDLEDGER_SHARED_DIR:-../shared} $$b -max_total_time=$(FUZZ_SECONDS) \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$n- \
	    $(FUZZ_BUILD)/corpus/$$n tests/fuzz/corpus/$$n; \
	done

$(FUZZ_BUILD)/libfundledger.a: $(FUZZ_LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/obj/src/%.o: src/%.c
	@mkdir -p $(@D)
	@echo "  FUZZCC $<"; $(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/obj/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(@D)
	@echo "  FUZZCC $<"; $(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -Itests/fuzz -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o $(FUZZ_BUILD)/libfundledger.a
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -pthread -o $@ $^ $(PKG_LIBS) -lm

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
