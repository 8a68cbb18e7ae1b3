/*
 * BPF instruction → text, in the notation the verifier log and bpftool use
 * ("r1 = *(u32 *)(r2 +8)", "if r0 == 0x0 goto pc+3", "call bpf_map_lookup_elem#1").
 *
 * Two sources of instructions differ in one place: in an object file a helper call's imm is the
 * helper id, while in the kernel's translated image (xlated_prog_insns) it is the distance from
 * __bpf_call_base to the function the verifier chose (often a map-specific one such as
 * __htab_map_lookup_elem). For the latter the names come from /proc/kallsyms, read in one pass.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "luabpf.h"

/* Newer encodings than the 6.1 UAPI header knows. */
#ifndef BPF_MEMSX
#define BPF_MEMSX 0x80
#endif
#ifndef BPF_LOAD_ACQ
#define BPF_LOAD_ACQ 0x100
#define BPF_STORE_REL 0x110
#endif
#ifndef BPF_JCOND
#define BPF_JCOND 0xe0
#endif

/* ---- helper names, generated from the UAPI header's list (ids in order) --------------------- */

#define LBPF_HELPER_NAME(x) "bpf_" #x
static const char *const helper_names[] = {
	__BPF_FUNC_MAPPER(LBPF_HELPER_NAME)
	/* Added after the 6.1 header this file is built against. */
	"bpf_cgrp_storage_get", "bpf_cgrp_storage_delete",
};

const char *lbpf_helper_name(int id)
{
	if (id <= 0 || (size_t)id >= sizeof(helper_names) / sizeof(helper_names[0]))
		return NULL;
	return helper_names[id];
}

int lbpf_helper_count(void)
{
	return (int)(sizeof(helper_names) / sizeof(helper_names[0]));
}

/* ---- kernel symbols for translated calls ----------------------------------------------------- */

struct ksym_want {
	uint64_t addr;
	char name[64];
};

/* Fills the names of the wanted addresses (base + imm) in one pass over /proc/kallsyms. The
 * base (__bpf_call_base) comes first in a pass of its own: it is constant, so it is cached. */
static uint64_t call_base;

static int read_call_base(void)
{
	char line[512], name[256], type;
	unsigned long long addr;
	FILE *f;

	if (call_base)
		return 0;
	f = fopen("/proc/kallsyms", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %255s", &addr, &type, name) == 3 &&
		    strcmp(name, "__bpf_call_base") == 0) {
			call_base = addr;
			break;
		}
	}
	fclose(f);
	return call_base ? 0 : -ENOENT; /* 0 address: kptr_restrict hides it */
}

static void resolve_ksyms(struct ksym_want *want, size_t n)
{
	char line[512], name[256], type;
	unsigned long long addr;
	size_t left = n;
	FILE *f;

	if (!n || read_call_base() < 0)
		return;
	for (size_t i = 0; i < n; i++)
		want[i].addr += call_base;
	f = fopen("/proc/kallsyms", "re");
	if (!f)
		return;
	while (left && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3)
			continue;
		for (size_t i = 0; i < n; i++) {
			if (want[i].addr == addr && !want[i].name[0]) {
				size_t n = strnlen(name, sizeof(want[i].name) - 1);

				memcpy(want[i].name, name, n);
				want[i].name[n] = '\0';
				left--;
			}
		}
	}
	fclose(f);
}

/* ---- one instruction -------------------------------------------------------------------------- */

static const char *const alu_ops[16] = {
	"+=", "-=", "*=", "/=", "|=", "&=", "<<=", ">>=", "neg", "%=", "^=", "=", "s>>=", "end",
	NULL, NULL,
};
static const char *const jmp_ops[16] = {
	"goto", "==", ">", ">=", "&", "!=", "s>", "s>=", "call", "exit", "<", "<=", "s<", "s<=",
	"may_goto", NULL,
};
static const char *const size_names[4] = { "u32", "u16", "u8", "u64" };
static const char *const ssize_names[4] = { "s32", "s16", "s8", "s64" };

struct disasm_ctx {
	FILE *out;
	const struct ksym_want *ksyms; /* indexed by instruction (xlated calls), or NULL */
	const struct lbpf_disasm_opts *opts;
};

static void print_alu(FILE *out, const struct bpf_insn *in)
{
	int is64 = BPF_CLASS(in->code) == BPF_ALU64;
	char r = is64 ? 'r' : 'w';
	unsigned op = BPF_OP(in->code) >> 4;
	const char *sym = alu_ops[op];

	if (BPF_OP(in->code) == BPF_NEG) {
		fprintf(out, "%c%u = -%c%u", r, in->dst_reg, r, in->dst_reg);
	} else if (BPF_OP(in->code) == BPF_END) {
		/* ALU64|END is the unconditional byte swap; ALU|END converts to/from an order. */
		const char *kind = is64 ? "bswap" : BPF_SRC(in->code) == BPF_X ? "be" : "le";
		fprintf(out, "r%u = %s%d r%u", in->dst_reg, kind, in->imm, in->dst_reg);
	} else if (BPF_OP(in->code) == BPF_MOV && BPF_SRC(in->code) == BPF_X && in->off) {
		fprintf(out, "%c%u = (s%d)%c%u", r, in->dst_reg, in->off, r, in->src_reg);
	} else {
		const char *sign = (BPF_OP(in->code) == BPF_DIV || BPF_OP(in->code) == BPF_MOD) &&
					   in->off == 1 ? "s" : "";
		if (BPF_SRC(in->code) == BPF_X)
			fprintf(out, "%c%u %s%s %c%u", r, in->dst_reg, sign, sym, r, in->src_reg);
		else
			fprintf(out, "%c%u %s%s %d", r, in->dst_reg, sign, sym, in->imm);
	}
}

static void print_mem_ref(FILE *out, const char *size, unsigned reg, int off)
{
	fprintf(out, "*(%s *)(r%u %c%d)", size, reg, off < 0 ? '-' : '+', off < 0 ? -off : off);
}

static void print_atomic(FILE *out, const struct bpf_insn *in)
{
	const char *sz = size_names[BPF_SIZE(in->code) >> 3];
	int is64 = BPF_SIZE(in->code) == BPF_DW;
	int op = in->imm & ~BPF_FETCH;
	static const struct { int op; const char *name, *sym; } ops[] = {
		{ BPF_ADD, "add", "+=" }, { BPF_OR, "or", "|=" }, { BPF_AND, "and", "&=" },
		{ BPF_XOR, "xor", "^=" },
	};

	if (in->imm == BPF_XCHG || in->imm == BPF_CMPXCHG) {
		unsigned dst = in->imm == BPF_CMPXCHG ? 0 : in->src_reg;
		fprintf(out, "r%u = atomic%s_%s((%s *)(r%u %+d), ", dst, is64 ? "64" : "",
			in->imm == BPF_XCHG ? "xchg" : "cmpxchg", sz, in->dst_reg, in->off);
		if (in->imm == BPF_CMPXCHG)
			fprintf(out, "r0, ");
		fprintf(out, "r%u)", in->src_reg);
		return;
	}
	if (in->imm == BPF_LOAD_ACQ) {
		fprintf(out, "r%u = load_acquire((%s *)(r%u %+d))", in->dst_reg, sz, in->src_reg,
			in->off);
		return;
	}
	if (in->imm == BPF_STORE_REL) {
		fprintf(out, "store_release((%s *)(r%u %+d), r%u)", sz, in->dst_reg, in->off,
			in->src_reg);
		return;
	}
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (ops[i].op != op)
			continue;
		if (in->imm & BPF_FETCH)
			fprintf(out, "r%u = atomic%s_fetch_%s((%s *)(r%u %+d), r%u)", in->src_reg,
				is64 ? "64" : "", ops[i].name, sz, in->dst_reg, in->off, in->src_reg);
		else {
			fprintf(out, "lock ");
			print_mem_ref(out, sz, in->dst_reg, in->off);
			fprintf(out, " %s r%u", ops[i].sym, in->src_reg);
		}
		return;
	}
	fprintf(out, "(atomic op 0x%x)", (unsigned)in->imm);
}

static void print_load_store(FILE *out, const struct bpf_insn *in)
{
	unsigned cls = BPF_CLASS(in->code), mode = BPF_MODE(in->code), sz = BPF_SIZE(in->code) >> 3;

	if (cls == BPF_LDX) {
		fprintf(out, "r%u = ", in->dst_reg);
		print_mem_ref(out, mode == BPF_MEMSX ? ssize_names[sz] : size_names[sz],
			      in->src_reg, in->off);
	} else if (cls == BPF_STX && mode == BPF_ATOMIC) {
		print_atomic(out, in);
	} else if (cls == BPF_STX) {
		print_mem_ref(out, size_names[sz], in->dst_reg, in->off);
		fprintf(out, " = r%u", in->src_reg);
	} else if (cls == BPF_ST) {
		print_mem_ref(out, size_names[sz], in->dst_reg, in->off);
		fprintf(out, " = %d", in->imm);
	} else if (mode == BPF_ABS) { /* classic packet loads */
		fprintf(out, "r0 = *(%s *)skb[%d]", size_names[sz], in->imm);
	} else if (mode == BPF_IND) {
		fprintf(out, "r0 = *(%s *)skb[r%u + %d]", size_names[sz], in->src_reg, in->imm);
	} else {
		fprintf(out, "(bad load/store 0x%02x)", in->code);
	}
}

/* ld_imm64 (two slots): a constant, or what the loader or the kernel put there. */
static void print_ld_imm64(FILE *out, const struct bpf_insn *in, size_t left)
{
	uint64_t hi = left > 1 ? (uint32_t)in[1].imm : 0;
	uint64_t v = (hi << 32) | (uint32_t)in->imm;

	switch (in->src_reg) {
	case BPF_PSEUDO_MAP_FD:
		fprintf(out, "r%u = map[id:%u]", in->dst_reg, (unsigned)in->imm);
		break;
	case BPF_PSEUDO_MAP_VALUE:
		fprintf(out, "r%u = map[id:%u][0]+%u", in->dst_reg, (unsigned)in->imm, (unsigned)hi);
		break;
	case BPF_PSEUDO_MAP_IDX:
		fprintf(out, "r%u = map[idx:%u]", in->dst_reg, (unsigned)in->imm);
		break;
	case BPF_PSEUDO_MAP_IDX_VALUE:
		fprintf(out, "r%u = map[idx:%u][0]+%u", in->dst_reg, (unsigned)in->imm, (unsigned)hi);
		break;
	case BPF_PSEUDO_BTF_ID:
		fprintf(out, "r%u = btf_id %u", in->dst_reg, (unsigned)in->imm);
		break;
	case BPF_PSEUDO_FUNC:
		fprintf(out, "r%u = func pc%+d", in->dst_reg, in->imm);
		break;
	default:
		fprintf(out, "r%u = 0x%" PRIx64 " ll", in->dst_reg, v);
	}
}

static void print_call(const struct disasm_ctx *c, const struct bpf_insn *in, size_t idx)
{
	const char *name;

	if (in->src_reg == BPF_PSEUDO_CALL) {
		fprintf(c->out, "call pc%+d", in->imm);
	} else if (in->src_reg == BPF_PSEUDO_KFUNC_CALL) {
		fprintf(c->out, "call kernel-function#%d", in->imm);
	} else if (c->opts && c->opts->xlated) {
		name = c->ksyms && c->ksyms[idx].name[0] ? c->ksyms[idx].name : "unknown";
		fprintf(c->out, "call %s#%d", name, in->imm);
	} else {
		name = lbpf_helper_name(in->imm);
		fprintf(c->out, "call %s#%d", name ? name : "unknown", in->imm);
	}
}

static void print_jmp(const struct disasm_ctx *c, const struct bpf_insn *in, size_t idx)
{
	unsigned op = BPF_OP(in->code);
	char r = BPF_CLASS(in->code) == BPF_JMP32 ? 'w' : 'r';

	if (op == BPF_EXIT) {
		fprintf(c->out, "exit");
	} else if (op == BPF_CALL) {
		print_call(c, in, idx);
	} else if (op == BPF_JA) {
		/* JMP32|JA ("gotol") carries its long offset in imm. */
		if (BPF_CLASS(in->code) == BPF_JMP32)
			fprintf(c->out, "gotol pc%+d", in->imm);
		else
			fprintf(c->out, "goto pc%+d", in->off);
	} else if (op == BPF_JCOND) {
		fprintf(c->out, "may_goto pc%+d", in->off);
	} else if (jmp_ops[op >> 4]) {
		fprintf(c->out, "if %c%u %s ", r, in->dst_reg, jmp_ops[op >> 4]);
		if (BPF_SRC(in->code) == BPF_X)
			fprintf(c->out, "%c%u", r, in->src_reg);
		else
			fprintf(c->out, "0x%x", (unsigned)in->imm);
		fprintf(c->out, " goto pc%+d", in->off);
	} else {
		fprintf(c->out, "(bad jump 0x%02x)", in->code);
	}
}

/* Prints one instruction; returns the slots it used (2 for ld_imm64). */
static size_t print_insn(const struct disasm_ctx *c, const struct bpf_insn *in, size_t idx,
			 size_t left)
{
	switch (BPF_CLASS(in->code)) {
	case BPF_ALU:
	case BPF_ALU64:
		print_alu(c->out, in);
		return 1;
	case BPF_JMP:
	case BPF_JMP32:
		print_jmp(c, in, idx);
		return 1;
	case BPF_LD:
		if (in->code == (BPF_LD | BPF_IMM | BPF_DW)) {
			print_ld_imm64(c->out, in, left);
			return left > 1 ? 2 : 1;
		}
		print_load_store(c->out, in);
		return 1;
	default:
		print_load_store(c->out, in);
		return 1;
	}
}

/* ---- whole programs --------------------------------------------------------------------------- */

static struct ksym_want *collect_call_targets(const struct bpf_insn *insns, size_t count)
{
	struct ksym_want *want = calloc(count ? count : 1, sizeof(*want));
	struct ksym_want *list;
	size_t n = 0;

	if (!want)
		return NULL;
	/* Resolve a compact list, then spread the names back by instruction index. */
	list = calloc(count ? count : 1, sizeof(*list));
	if (!list) {
		free(want);
		return NULL;
	}
	for (size_t i = 0; i < count; i++)
		if (insns[i].code == (BPF_JMP | BPF_CALL) && insns[i].src_reg == 0)
			list[n++].addr = (uint64_t)(int64_t)insns[i].imm;
	resolve_ksyms(list, n);
	n = 0;
	for (size_t i = 0; i < count; i++)
		if (insns[i].code == (BPF_JMP | BPF_CALL) && insns[i].src_reg == 0)
			want[i] = list[n++];
	free(list);
	return want;
}

int lbpf_disasm(const struct bpf_insn *insns, size_t count, const struct lbpf_disasm_opts *opts,
		char **out)
{
	struct disasm_ctx c = { .opts = opts };
	struct ksym_want *ksyms = NULL;
	size_t len = 0;

	*out = NULL;
	if (!insns && count)
		return lbpf_err(EINVAL, "disassembler: no instructions");
	if (opts && opts->xlated) {
		ksyms = collect_call_targets(insns, count);
		if (!ksyms)
			return lbpf_err(ENOMEM, "disassembler: out of memory");
	}
	c.ksyms = ksyms;
	c.out = open_memstream(out, &len);
	if (!c.out) {
		free(ksyms);
		return lbpf_err(ENOMEM, "disassembler: out of memory");
	}
	for (size_t i = 0; i < count;) {
		fprintf(c.out, "%4zu: ", i);
		i += print_insn(&c, &insns[i], i, count - i);
		fputc('\n', c.out);
	}
	free(ksyms);
	if (fclose(c.out) != 0 || !*out) {
		free(*out);
		*out = NULL;
		return lbpf_err(ENOMEM, "disassembler: out of memory");
	}
	return (int)(len > INT32_MAX ? INT32_MAX : len);
}

int lbpf_prog_xlated(int prog_fd, struct bpf_insn **insns, size_t *count)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info), bytes;
	int ret;

	*insns = NULL;
	*count = 0;
	memset(&info, 0, sizeof(info));
	ret = lbpf_obj_info(prog_fd, &info, &len);
	if (ret < 0)
		return ret;
	bytes = info.xlated_prog_len;
	if (!bytes)
		return lbpf_err(EPERM, "the kernel shows no translated instructions for program "
				"'%s' (needs CAP_SYS_ADMIN; bpf_jit_harden?)", info.name);
	*insns = malloc(bytes);
	if (!*insns)
		return lbpf_err(ENOMEM, "out of memory");
	memset(&info, 0, sizeof(info));
	info.xlated_prog_len = bytes;
	info.xlated_prog_insns = (uint64_t)(uintptr_t)*insns;
	len = sizeof(info);
	ret = lbpf_obj_info(prog_fd, &info, &len);
	if (ret < 0) {
		free(*insns);
		*insns = NULL;
		return ret;
	}
	/* The program cannot change, but take the smaller size in case the kernel says less. */
	*count = (info.xlated_prog_len < bytes ? info.xlated_prog_len : bytes) / sizeof(**insns);
	return 0;
}

int lbpf_prog_xlated_text(int prog_fd, char **out)
{
	struct lbpf_disasm_opts opts = { .xlated = true };
	struct bpf_insn *insns;
	size_t count;
	int ret;

	*out = NULL;
	ret = lbpf_prog_xlated(prog_fd, &insns, &count);
	if (ret < 0)
		return ret;
	ret = lbpf_disasm(insns, count, &opts, out);
	free(insns);
	return ret;
}
