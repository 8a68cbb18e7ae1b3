/*
 * The trace compiler's builder in C (lasm_gen.c, lasm_gen_seq.c): the state a builder table
 * holds in its array entries (B_GEN ...), and what the two files share.
 */
#ifndef LBPF_LASM_GEN_H
#define LBPF_LASM_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include "lbpf_lua.h"

/* One slot as the kernel takes it (struct bpf_insn): regs is dst + 16 * src. */
struct gen_insn {
	uint8_t code;
	uint8_t regs;
	int16_t off;
	int32_t imm;
};

/* What a register holds, as far as emission order tells (bpf.asm_fast's texts, same order). */
enum gen_prov { P_NONE, P_STACK, P_CTX, P_MAP, P_MAPVAL, P_RETPTR, P_SCALAR, P_ZERO, P_COUNT };

/* A helper as a call checks it: built once per name from bpf.asm_fast's spec. */
struct gen_spec {
	int32_t id;
	int nargs;
	uint8_t accept[5]; /* per argument: a bit per enum gen_prov it may hold */
	uint8_t ret;       /* what r0 holds after the call */
	char name[64];
};

/* A line info entry: the file and text (as given) sit in the builder table's line_str. */
struct gen_line {
	uint32_t slot;
	int64_t line;
	int64_t col;
	bool has_col;
};

struct gen {
	struct gen_insn *ins;
	int32_t *jump; /* per slot: the label its jump targets, 0 for none */
	uint32_t n, cap;
	int32_t *label_slot; /* label id → slot, -1 until placed */
	uint32_t label_seq, label_cap;
	struct gen_line *lines;
	uint32_t nlines, line_cap, cur_line; /* cur_line: the entry of the last line() call */
	const struct gen_spec **calls;
	uint32_t ncalls, call_cap;
	uint32_t *ref_slot; /* per map reference (in the table's B_REFS list): its slot, from 1 */
	uint32_t nrefs, ref_cap;
	uint32_t sp;
	uint8_t prov[11];
	bool finished; /* finish found nothing wrong: the jumps are resolved */
	bool lua;      /* the table has become bpf.asm_fast's Lua builder */
};

/* The builder table's array entries that hold what the C state refers to (B_GEN: the state). */
enum { B_GEN = 1, B_LINE_STR, B_REFS, B_HINTS };

/* Upvalues of every method: the setup table, the spec cache, the method's name, an opcode. */
#define GEN_UP_STATE lua_upvalueindex(1)
#define GEN_UP_SPECS lua_upvalueindex(2)
#define GEN_UP_NAME lua_upvalueindex(3)
#define GEN_UP_CODE lua_upvalueindex(4)

/* Opcodes (the kernel's encoding). */
enum {
	OP_LD = 0x00, OP_LDX = 0x01, OP_ST = 0x02, OP_STX = 0x03, OP_ALU = 0x04, OP_JMP = 0x05,
	OP_JMP32 = 0x06, OP_ALU64 = 0x07,
	OP_W = 0x00, OP_H = 0x08, OP_B = 0x10, OP_DW = 0x18, OP_MEM = 0x60, OP_ATOMIC = 0xc0,
	OP_K = 0x00, OP_X = 0x08,
	OP_ADD = 0x00, OP_SUB = 0x10, OP_DIV = 0x30, OP_RSH = 0x70, OP_MOV = 0xb0,
	OP_JA = 0x00, OP_JEQ = 0x10, OP_JGT = 0x20, OP_JGE = 0x30, OP_JSET = 0x40, OP_JNE = 0x50,
	OP_JSGT = 0x60, OP_JSGE = 0x70, OP_CALL = 0x80, OP_EXIT = 0x90, OP_JLT = 0xa0,
	OP_JLE = 0xb0, OP_JSLT = 0xc0, OP_JSLE = 0xd0,
	PSEUDO_MAP_FD = 1, PSEUDO_MAP_VALUE = 2,
};
#define LD_IMM64 (OP_LD | OP_DW)
#define MOV_X (OP_ALU64 | OP_MOV | OP_X)
#define MOV_K (OP_ALU64 | OP_MOV | OP_K)
#define ADD_K (OP_ALU64 | OP_ADD | OP_K)
#define ADD_X (OP_ALU64 | OP_ADD | OP_X)
#define JEQ_K (OP_JMP | OP_JEQ | OP_K)
#define LDX_DW (OP_LDX | OP_MEM | OP_DW)
#define STX_DW (OP_STX | OP_MEM | OP_DW)
#define ST_DW (OP_ST | OP_MEM | OP_DW)
#define CALL_INSN (OP_JMP | OP_CALL)

struct gen *gen_self(lua_State *L);
int gen_delegate(lua_State *L);
bool gen_reserve(lua_State *L, struct gen *g, uint32_t more);
bool gen_int(lua_State *L, int idx, int64_t *out);
bool gen_is_ref(lua_State *L, int idx);
void gen_set_map_ref(lua_State *L, struct gen *g, uint32_t slot, int ref_idx);
const struct gen_spec *gen_spec_of(lua_State *L, const char *name);
bool gen_check_call(struct gen *g, const struct gen_spec *spec, int nargs, const uint8_t *prov);
void gen_record_call(lua_State *L, struct gen *g, const struct gen_spec *spec);

/* Appends a slot (room reserved before). */
static inline void gen_put(struct gen *g, uint8_t code, uint8_t regs, int32_t off, int32_t imm)
{
	struct gen_insn *i = &g->ins[g->n];
	i->code = code;
	i->regs = regs;
	i->off = (int16_t)off;
	i->imm = imm;
	g->jump[g->n] = 0;
	g->n++;
}

static inline void gen_forget_args(struct gen *g)
{
	for (int r = 1; r <= 5; r++)
		g->prov[r] = P_NONE;
}

/* Adds method `name` (fn with the four upvalues) to the table at index methods. */
void gen_add_method(lua_State *L, int methods, int state, int specs, const char *name,
		    lua_CFunction fn, int code);
void gen_add_seq_methods(lua_State *L, int methods, int state, int specs); /* lasm_gen_seq.c */
void lbpf_lua_asm_gen_funcs(lua_State *L); /* lasm_gen.c: adds gen_* to the table on top */

#endif
