/* USDT argument strings → where the BPF side finds each argument.
 *
 * A SystemTap SDT note lists a probe's arguments as "SIZE@OPERAND" separated by spaces, the
 * operand being whatever the compiler chose for the asm "nor" constraint, in the assembler's
 * syntax. SIZE is 1, 2, 4 or 8 bytes, negative for signed values. On x86-64 (AT&T syntax):
 *   "$-17"        a constant
 *   "%edi"        a register, any of its 64/32/16/8-bit names
 *   "-20(%rbp)"   user memory at a register plus a displacement ("(%rax)": no displacement)
 * Registers are located by their byte offset in the kernel's struct pt_regs (x86-64), which is
 * what a uprobe program's context points at. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "luabpf.h"

_Static_assert(sizeof(struct lbpf_usdt_arg) == 16, "must match bpf/include/usdt.bpf.h");
_Static_assert(sizeof(struct lbpf_usdt_spec) == 8 + 16 * LBPF_USDT_MAX_ARGS,
	       "must match bpf/include/usdt.bpf.h");

/* One general-purpose register: its names by width and its slot in struct pt_regs. */
struct x86_reg {
	const char *names[4]; /* 64, 32, 16, 8-bit (low byte) */
	uint16_t offset;
};

/* The x86-64 struct pt_regs saves, in order: r15 r14 r13 r12 bp bx r11 r10 r9 r8 ax cx dx si di
 * orig_ax ip cs flags sp ss, 8 bytes each. */
static const struct x86_reg x86_regs[] = {
	{ { "r15", "r15d", "r15w", "r15b" }, 0 },   { { "r14", "r14d", "r14w", "r14b" }, 8 },
	{ { "r13", "r13d", "r13w", "r13b" }, 16 },  { { "r12", "r12d", "r12w", "r12b" }, 24 },
	{ { "rbp", "ebp", "bp", "bpl" }, 32 },      { { "rbx", "ebx", "bx", "bl" }, 40 },
	{ { "r11", "r11d", "r11w", "r11b" }, 48 },  { { "r10", "r10d", "r10w", "r10b" }, 56 },
	{ { "r9", "r9d", "r9w", "r9b" }, 64 },      { { "r8", "r8d", "r8w", "r8b" }, 72 },
	{ { "rax", "eax", "ax", "al" }, 80 },       { { "rcx", "ecx", "cx", "cl" }, 88 },
	{ { "rdx", "edx", "dx", "dl" }, 96 },       { { "rsi", "esi", "si", "sil" }, 104 },
	{ { "rdi", "edi", "di", "dil" }, 112 },     { { "rsp", "esp", "sp", "spl" }, 152 },
};

#define NREGS (sizeof(x86_regs) / sizeof(x86_regs[0]))

const char *lbpf_usdt_reg_name(uint16_t reg_offset)
{
	for (size_t i = 0; i < NREGS; i++)
		if (x86_regs[i].offset == reg_offset)
			return x86_regs[i].names[0];
	return NULL;
}

/* Looks up a register name (without '%'); *width gets its size in bytes. */
static const struct x86_reg *find_reg(const char *name, size_t len, int *width)
{
	static const int widths[4] = { 8, 4, 2, 1 };

	for (size_t i = 0; i < NREGS; i++)
		for (int w = 0; w < 4; w++)
			if (strlen(x86_regs[i].names[w]) == len &&
			    strncmp(x86_regs[i].names[w], name, len) == 0) {
				*width = widths[w];
				return &x86_regs[i];
			}
	return NULL;
}

/* Why an unknown register name cannot be read, for the error message. */
static int bad_register(int n, const char *operand, const char *name, size_t len)
{
	if (len == 3 && strncmp(name, "rip", 3) == 0)
		return lbpf_err(EOPNOTSUPP, "USDT argument %d '%s': RIP-relative operands are not "
				"supported", n, operand);
	if (len == 2 && name[1] == 'h' && strchr("abcd", name[0]))
		return lbpf_err(EOPNOTSUPP, "USDT argument %d '%s': high-byte register %%%.*s is not "
				"supported", n, operand, (int)len, name);
	return lbpf_err(EINVAL, "USDT argument %d '%s': unknown x86-64 register '%%%.*s'", n,
			operand, (int)len, name);
}

/* "%name" at *p: the register, its width; *p moves past the name. */
static int parse_reg(int n, const char *operand, const char **p, const struct x86_reg **reg,
		     int *width)
{
	const char *name = *p + 1;
	size_t len = 0;

	if (**p != '%')
		return lbpf_err(EINVAL, "USDT argument %d '%s': expected a register", n, operand);
	while (isalnum((unsigned char)name[len]))
		len++;
	*reg = find_reg(name, len, width);
	if (!*reg)
		return bad_register(n, operand, name, len);
	*p = name + len;
	return 0;
}

/* A decimal or 0x integer, possibly negative; *p moves past it. */
static int parse_number(int n, const char *operand, const char **p, int64_t *value)
{
	char *end;
	int neg = **p == '-';
	uint64_t v;

	errno = 0;
	v = strtoull(*p + neg, &end, 0);
	if (end == *p + neg || errno)
		return lbpf_err(EINVAL, "USDT argument %d '%s': bad number", n, operand);
	*value = neg ? (int64_t)(0 - v) : (int64_t)v; /* unsigned negation: no overflow at 2^63 */
	*p = end;
	return 0;
}

static int parse_operand(int n, const char *operand, struct lbpf_usdt_arg *arg, int *reg_width)
{
	const struct x86_reg *reg;
	const char *p = operand;
	int ret;

	*reg_width = 0;
	if (*p == '$') {
		p++;
		if ((ret = parse_number(n, operand, &p, &arg->value)) < 0)
			return ret;
		arg->kind = LBPF_USDT_ARG_CONST;
	} else if (*p == '%') {
		if ((ret = parse_reg(n, operand, &p, &reg, reg_width)) < 0)
			return ret;
		arg->kind = LBPF_USDT_ARG_REG;
		arg->reg_offset = reg->offset;
	} else {
		int width;

		arg->value = 0;
		if (*p != '(' && (ret = parse_number(n, operand, &p, &arg->value)) < 0)
			return lbpf_err(isalpha((unsigned char)*p) || *p == '_' ? EOPNOTSUPP : EINVAL,
					"USDT argument %d '%s': %s", n, operand,
					isalpha((unsigned char)*p) || *p == '_'
						? "symbolic (global variable) displacements are not supported"
						: "not an x86-64 operand ($imm, %reg or off(%reg))");
		if (*p != '(')
			return lbpf_err(EINVAL, "USDT argument %d '%s': expected '(' after the "
					"displacement", n, operand);
		p++;
		if ((ret = parse_reg(n, operand, &p, &reg, &width)) < 0)
			return ret;
		if (*p == ',')
			return lbpf_err(EOPNOTSUPP, "USDT argument %d '%s': indexed memory operands "
					"are not supported", n, operand);
		if (*p++ != ')')
			return lbpf_err(EINVAL, "USDT argument %d '%s': expected ')'", n, operand);
		arg->kind = LBPF_USDT_ARG_REG_DEREF;
		arg->reg_offset = reg->offset;
	}
	if (*p)
		return lbpf_err(EINVAL, "USDT argument %d '%s': unexpected '%s' at the end", n,
				operand, p);
	return 0;
}

/* "[-]SIZE@" prefix, optional (old notes): *size 0 when absent. */
static int parse_size(int n, const char *word, const char **rest, int *size, int *is_signed)
{
	const char *at = strchr(word, '@');
	char *end;
	long v, mag;

	*size = 0;
	*is_signed = 0;
	*rest = word;
	if (!at)
		return 0;
	v = strtol(word, &end, 10);
	if (end != at || end == word)
		return lbpf_err(EINVAL, "USDT argument %d '%s': bad size before '@'", n, word);
	*is_signed = v < 0;
	mag = v < -8 || v > 8 ? 0 : labs(v); /* labs(LONG_MIN) would overflow */
	if (mag != 1 && mag != 2 && mag != 4 && mag != 8)
		return lbpf_err(EINVAL, "USDT argument %d '%s': size %ld is not 1, 2, 4 or 8", n,
				word, v);
	*size = (int)mag;
	*rest = at + 1;
	return 0;
}

static int parse_one(int n, const char *word, struct lbpf_usdt_arg *arg)
{
	const char *operand;
	int size, is_signed, reg_width, ret;

	if ((ret = parse_size(n, word, &operand, &size, &is_signed)) < 0)
		return ret;
	if ((ret = parse_operand(n, operand, arg, &reg_width)) < 0)
		return ret;
	/* Without a size, a register says how wide it is; anything else is a full word. */
	arg->size = (uint8_t)(size ? size : reg_width ? reg_width : 8);
	arg->is_signed = (uint8_t)is_signed;
	return 0;
}

int lbpf_usdt_parse_args(const char *text, struct lbpf_usdt_spec *spec)
{
	char word[128];
	const char *p = text ? text : "";
	int ret;

	memset(spec, 0, sizeof(*spec));
#if !defined(__x86_64__)
	if (*p)
		return lbpf_err(EOPNOTSUPP, "USDT arguments are only translated on x86-64");
#endif
	for (;;) {
		size_t len;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		len = strcspn(p, " \t");
		if (spec->arg_cnt >= LBPF_USDT_MAX_ARGS)
			return lbpf_err(E2BIG, "USDT probe has more than %d arguments ('%s')",
					LBPF_USDT_MAX_ARGS, text);
		if (len >= sizeof(word))
			return lbpf_err(EINVAL, "USDT argument %u is too long", spec->arg_cnt);
		memcpy(word, p, len);
		word[len] = '\0';
		ret = parse_one((int)spec->arg_cnt, word, &spec->args[spec->arg_cnt]);
		if (ret < 0)
			return ret;
		spec->arg_cnt++;
		p += len;
	}
	return 0;
}
