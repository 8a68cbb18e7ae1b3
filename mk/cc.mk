# `make cc SRC=path/prog.bpf.c [OUT=path/prog.bpf.o]`: compiles a BPF program of one's own with
# the command the README gives (our headers in bpf/include, the generated helper declarations
# and build/gen/vmlinux.h from this kernel's BTF). The static binary does the same with
# `luabpf cc FILE.bpf.c`.
.PHONY: cc
cc: $(BPF_GEN_DEPS) $(VMLINUX_H)
	@test -n "$(SRC)" || { echo "usage: make cc SRC=prog.bpf.c [OUT=prog.bpf.o]" >&2; exit 2; }
	$(CLANG) $(BPF_CFLAGS) -I$(CURDIR)/bpf/include -I$(CURDIR)/$(BUILD)/gen -c $(SRC) \
		-o $(or $(OUT),$(SRC:.c=.o))

# What the documented clang command needs from build/gen: the helper declarations that
# bpf_helpers.h includes, and vmlinux.h (this kernel's types, for programs that include it).
.PHONY: bpf-headers
bpf-headers: $(BPF_GEN_DEPS) $(VMLINUX_H)
