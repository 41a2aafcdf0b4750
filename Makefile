# dlc: `make demo` trains the showcase model, `make test` runs every suite.
# Everything built goes to build/; nothing generated is kept in git.

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -std=c99 -Wall -Wextra -pedantic
CPPFLAGS += -D_POSIX_C_SOURCE=200809L
BUILD    := build
SAN      ?=
PY       := /usr/bin/python3

GEN_DIR  := $(BUILD)/gen
COMPILER_SRC := $(wildcard compiler/*.c) $(wildcard compiler/ops/*.c) $(wildcard compiler/optim/*.c)
COMPILER_OBJ := $(COMPILER_SRC:%.c=$(BUILD)/%.o) $(GEN_DIR)/parser.o $(GEN_DIR)/lexer.o
# comm_mpi.c goes only into the MPI library (make MPI=1, below).
RUNTIME_SRC  := $(filter-out runtime/comm_mpi.c,$(wildcard runtime/*.c))
RUNTIME_OBJ  := $(RUNTIME_SRC:%.c=$(BUILD)/%.o)
HEADERS      := compiler/dlc.h compiler/ops/ops.h compiler/ops/ops.def \
                compiler/optim/optim.h compiler/optim/optim.def compiler/train.h \
                compiler/emit_c.h compiler/sema_internal.h compiler/build.h \
                compiler/schedule.h
# Init schemes: one file each under compiler/init/, one row in init.def.
COMPILER_OBJ += $(patsubst %.c,$(BUILD)/%.o,$(wildcard compiler/init/*.c))
HEADERS      += compiler/init.h compiler/init.def
# conv.c sizes workspaces with the kernels' own arithmetic (plain C99).
HEADERS      += runtime/kernels/geometry.h

DLC      := $(BUILD)/dlc
LIBDLRT  := $(BUILD)/libdlrt.a
# What a generated model links with.
# -fno-math-errno lets the compiler vectorize sqrtf (Adam) and friends;
# it changes no result. NATIVE: the target machine (make NATIVE= for
# binaries and a libdlrt.a that run on any x86-64, without AVX-512's SMALL).
NATIVE       ?= -march=native
MODEL_CFLAGS := $(WARN) -O3 $(NATIVE) -fno-math-errno -Iruntime
MODEL_LIBS   := $(LIBDLRT) -lopenblas -lz -lm
# The kernels generated code inlines (header-only: static inline, found
# through -Iruntime as runtime/dlrt_kernels.h and runtime/kernels/*.h;
# dense's, declared there, are in libdlrt: runtime/dense.c).
KERNEL_HEADERS := runtime/dlrt.h runtime/dlrt_kernels.h runtime/dlrt_precisions.h \
                  $(wildcard runtime/kernels/*.h)

.PHONY: all demo test golden bench deps deps-test clean check-long

all: $(DLC) $(LIBDLRT) $(BUILD)/dlc-sweep

deps:
	@scripts/deps.sh build

deps-test:
	@scripts/deps.sh test

# ---- the compiler --------------------------------------------------------

$(GEN_DIR)/parser.c $(GEN_DIR)/parser.h: grammars/parser.y
	@mkdir -p $(GEN_DIR)
	bison -Wall -Werror --defines=$(GEN_DIR)/parser.h -o $(GEN_DIR)/parser.c $<

$(GEN_DIR)/lexer.c $(GEN_DIR)/lexer.h: grammars/lexer.l $(GEN_DIR)/parser.h
	flex --header-file=$(GEN_DIR)/lexer.h -o $(GEN_DIR)/lexer.c $<

# Generated scanner/parser: compiled without -pedantic (flex's own code).
$(GEN_DIR)/%.o: $(GEN_DIR)/%.c $(GEN_DIR)/parser.h $(GEN_DIR)/lexer.h $(HEADERS)
	$(CC) $(CPPFLAGS) -std=c99 -Wall -Wno-unused-function -Wno-sign-compare $(CFLAGS) $(SAN) -Icompiler -I$(GEN_DIR) -c -o $@ $<

$(BUILD)/compiler/%.o: compiler/%.c $(HEADERS) $(GEN_DIR)/parser.h $(GEN_DIR)/lexer.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(SAN) -Icompiler -I$(GEN_DIR) -c -o $@ $<

$(DLC): $(COMPILER_OBJ)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ -lm

# ---- the runtime ---------------------------------------------------------

$(BUILD)/runtime/%.o: runtime/%.c runtime/dlrt.h runtime/internal.h runtime/comm.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(SAN) -Iruntime -c -o $@ $<

# lbfgs.c includes its step once per precision.
$(BUILD)/runtime/lbfgs.o: runtime/lbfgs_step.h

# dense.c: dense's SMALL kernels, compiled here once instead of in every
# model, and so built as a model is (the machine's vector width).
$(BUILD)/runtime/dense.o: runtime/dense.c runtime/dense_small.h $(KERNEL_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -O3 $(NATIVE) -fno-math-errno $(SAN) -Iruntime -c -o $@ $<

$(LIBDLRT): $(RUNTIME_OBJ)
	rm -f $@
	ar rcs $@ $^

# ---- MPI (make MPI=1): data-parallel trainers, docs/scaling.md -----------
# build/libdlrt_mpi.a is libdlrt.a with comm_mpi.c in place of
# comm_single.c; build/mpi/NAME is examples/NAME.net's trainer linked with
# it (run under mpirun). The default build has no MPI dependency.
MPICC       ?= mpicc
LIBDLRT_MPI := $(BUILD)/libdlrt_mpi.a

$(BUILD)/mpi/comm_mpi.o: runtime/comm_mpi.c runtime/comm.h runtime/dlrt.h
	@mkdir -p $(dir $@)
	$(MPICC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(SAN) -Iruntime -c -o $@ $<

$(LIBDLRT_MPI): $(filter-out $(BUILD)/runtime/comm_single.o,$(RUNTIME_OBJ)) $(BUILD)/mpi/comm_mpi.o
	rm -f $@
	ar rcs $@ $^

$(BUILD)/mpi/%: $(BUILD)/%.c $(LIBDLRT_MPI) $(KERNEL_HEADERS)
	@mkdir -p $(dir $@)
	$(MPICC) $(MODEL_CFLAGS) -o $@ $< $(LIBDLRT_MPI) -lopenblas -lz -lm

ifeq ($(MPI),1)
all: $(LIBDLRT_MPI)
endif

# ---- dlc-sweep: grid and random searches (docs/optimizers.md section 6) ---

$(BUILD)/dlc-sweep: scripts/dlc-sweep.py
	@mkdir -p $(BUILD)
	cp $< $@
	chmod +x $@

# ---- trainers for the examples: make build/NAME for examples/NAME.net ----

$(BUILD)/%.c: examples/%.net $(DLC)
	$(DLC) --main $< -o $@

$(BUILD)/%: $(BUILD)/%.c $(LIBDLRT) $(KERNEL_HEADERS)
	$(CC) $(MODEL_CFLAGS) -o $@ $< $(MODEL_LIBS)

.PRECIOUS: $(BUILD)/%.c

demo: deps
	@$(MAKE) --no-print-directory $(BUILD)/fashion_mlp
	$(BUILD)/fashion_mlp --checkpoint $(BUILD)/fashion_mlp.ckpt --overwrite

# ---- tests ---------------------------------------------------------------

test: deps-test
	@$(MAKE) --no-print-directory all MPI=1
	@tests/run.sh

# Rewrite the expected outputs (golden C, diagnostics); review with git diff.
golden: all
	@tests/run.sh --update golden errors

check-long: all
	@tests/run.sh --long

bench: deps-test all
	@bench/run.sh

clean:
	rm -rf $(BUILD)
