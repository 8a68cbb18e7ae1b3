/*
 * The trace compiler's builder in C (lasm_gen.c, lasm_gen_seq.c): the state a builder table
 * holds in its array entries (B_GEN ...), and what the two files share.
 */
#ifndef LBPF_LASM_GEN_H
#define LBPF_LASM_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include "lbpf_lua.h"

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
	struct bpf_insn *ins;
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

/* Composite opcodes the emitters use most (linux/bpf.h's BPF_* parts, through luabpf.h). */
#define LD_IMM64 (BPF_LD | BPF_DW)
#define MOV_X (BPF_ALU64 | BPF_MOV | BPF_X)
#define MOV_K (BPF_ALU64 | BPF_MOV | BPF_K)
#define ADD_K (BPF_ALU64 | BPF_ADD | BPF_K)
#define ADD_X (BPF_ALU64 | BPF_ADD | BPF_X)
#define JEQ_K (BPF_JMP | BPF_JEQ | BPF_K)
#define LDX_DW (BPF_LDX | BPF_MEM | BPF_DW)
#define STX_DW (BPF_STX | BPF_MEM | BPF_DW)
#define ST_DW (BPF_ST | BPF_MEM | BPF_DW)
#define CALL_INSN (BPF_JMP | BPF_CALL)

struct gen *gen_self(lua_State *L);
int gen_delegate(lua_State *L);
bool gen_reserve(lua_State *L, struct gen *g, uint32_t more);
bool gen_int(lua_State *L, int idx, int64_t *out);
bool gen_is_ref(lua_State *L, int idx);
void gen_set_map_ref(lua_State *L, struct gen *g, uint32_t slot, int ref_idx);
const struct gen_spec *gen_spec_of(lua_State *L, const char *name);
bool gen_check_call(const struct gen_spec *spec, int nargs, const uint8_t *prov);
void gen_record_call(lua_State *L, struct gen *g, const struct gen_spec *spec);

/* Appends a slot (room reserved before); regs is dst + 16 * src, as the Lua builder keeps it. */
static inline void gen_put(struct gen *g, uint8_t code, uint8_t regs, int32_t off, int32_t imm)
{
	struct bpf_insn *i = &g->ins[g->n];
	i->code = code;
	i->dst_reg = regs & 15;
	i->src_reg = regs >> 4;
	i->off = (int16_t)off;
	i->imm = imm;
	g->jump[g->n] = 0;
	g->n++;
}

/* An offset field's range, an immediate's. */
static inline bool gen_in_off(int64_t v) { return v >= -32768 && v <= 32767; }
static inline bool gen_in_imm(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }

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
