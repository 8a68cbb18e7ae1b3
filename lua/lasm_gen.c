/*
 * The trace compiler's instruction builder in C: bpf.asm_fast's emitters writing slots into a
 * buffer, with what each register holds tracked for the helper-prototype checks. A builder is
 * a Lua table whose first array entry holds this state. Any form the C path does not take, and every
 * refusal, turns the table into bpf.asm_fast's Lua builder (gen_export) and repeats the call
 * there, so rare forms and every message stay the Lua builder's. The sequences (map updates,
 * aggregations, histogram slots) are in lasm_gen_seq.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lasm_gen.h"

#define GEN_MT "bpf.asm_gen"
#define GEN_MAGIC 0x6e656761u
#define TWO31 2147483648.0
#define STACK_MAX 512

struct gen_box {
	uint32_t magic;
	struct gen g;
};

/* ---- the state ------------------------------------------------------------------------------ */

struct gen *gen_self(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_rawgeti(L, 1, B_GEN);
	struct gen_box *box = lua_touserdata(L, -1);
	if (!box || lbpf_len(L, -1) != (lua_Integer)sizeof(*box) || box->magic != GEN_MAGIC)
		luaL_error(L, "bpf.asm: a builder expected (its methods are called with ':')");
	lua_pop(L, 1);
	return &box->g;
}

/* Pushes the builder table's list at entry `which` (B_LINE_STR, B_REFS, B_HINTS). */
static void push_list(lua_State *L, int which)
{
	lua_rawgeti(L, 1, which);
	if (lua_type(L, -1) != LUA_TTABLE)
		luaL_error(L, "bpf.asm: the builder's table was changed (entry %d)", which);
}

static bool grow(void **p, uint32_t *cap, uint32_t need, size_t elem)
{
	if (need <= *cap)
		return true;
	uint32_t c = *cap ? *cap : 64;
	while (c < need)
		c *= 2;
	void *q = realloc(*p, (size_t)c * elem);
	if (!q)
		return false;
	*p = q;
	*cap = c;
	return true;
}

/* Room for `more` slots (the jump array grows with the instructions). */
bool gen_reserve(lua_State *L, struct gen *g, uint32_t more)
{
	uint32_t need = g->n + more, cap = g->cap;
	if (need <= cap)
		return true;
	if (!grow((void **)&g->ins, &cap, need, sizeof(*g->ins)))
		luaL_error(L, "bpf.asm: out of memory");
	cap = g->cap;
	if (!grow((void **)&g->jump, &cap, need, sizeof(*g->jump)))
		luaL_error(L, "bpf.asm: out of memory");
	g->cap = cap;
	return true;
}

static void gen_free(struct gen *g)
{
	free(g->ins);
	free(g->jump);
	free(g->label_slot);
	free(g->lines);
	free(g->calls);
	free(g->ref_slot);
	g->ins = NULL, g->jump = NULL, g->label_slot = NULL, g->lines = NULL, g->calls = NULL;
	g->ref_slot = NULL;
	g->cap = g->label_cap = g->line_cap = g->call_cap = g->ref_cap = 0;
}

static int gen_gc(lua_State *L)
{
	struct gen_box *box = lua_touserdata(L, 1);
	gen_free(&box->g);
	return 0;
}

/* The call repeated on the Lua builder the table becomes (upvalue 3 names the method). */
int gen_delegate(lua_State *L)
{
	int nargs = lua_gettop(L);
	lua_getfield(L, GEN_UP_STATE, "materialize");
	lua_pushvalue(L, 1);
	lua_call(L, 1, 0);
	lua_pushvalue(L, GEN_UP_NAME);
	lua_gettable(L, 1);
	lua_insert(L, 1);
	lua_call(L, nargs, LUA_MULTRET);
	return lua_gettop(L);
}

/* ---- arguments ------------------------------------------------------------------------------- */

/* A number with an integral value (what the Lua builder's `v % 1 == 0` takes). */
bool gen_int(lua_State *L, int idx, int64_t *out)
{
	if (lua_type(L, idx) != LUA_TNUMBER)
		return false;
#if LBPF_LUA_INTEGERS
	if (lua_isinteger(L, idx)) {
		*out = (int64_t)lua_tointeger(L, idx);
		return true;
	}
#endif
	lua_Number v = lua_tonumber(L, idx);
	if (!(v >= -9.0e18 && v <= 9.0e18) || v != floor(v))
		return false;
	*out = (int64_t)v;
	return true;
}


/* 2^31 .. 2^32-1 as the signed 32-bit value with the same bits (a u32 store's or a 32-bit
 * compare's immediate), anything else as it is. */
static int64_t as_s32(int64_t v)
{
	return v >= (int64_t)TWO31 && v < 2 * (int64_t)TWO31 ? v - 2 * (int64_t)TWO31 : v;
}

/* "r0".."r10" when prefix is 'r', "w0".."w10" when 'w': the number, else -1. */
static int reg_of(lua_State *L, int idx, char prefix)
{
	if (lua_type(L, idx) != LUA_TSTRING)
		return -1;
	size_t len;
	const char *s = lua_tolstring(L, idx, &len);
	if (s[0] != prefix)
		return -1;
	if (len == 2 && s[1] >= '0' && s[1] <= '9')
		return s[1] - '0';
	if (len == 3 && s[1] == '1' && s[2] == '0')
		return 10;
	return -1;
}

/* A map reference as the builder takes it: a table with an id. */
bool gen_is_ref(lua_State *L, int idx)
{
	if (lua_type(L, idx) != LUA_TTABLE)
		return false;
	lua_getfield(L, idx, "id");
	bool ok = !lua_isnil(L, -1);
	lua_pop(L, 1);
	return ok;
}

/* The map reference at ref_idx used by slot (from 1, as the Lua builder counts): kept in the
 * table's B_REFS list, its slot here (export makes the Lua builder's map_ref from both). */
void gen_set_map_ref(lua_State *L, struct gen *g, uint32_t slot, int ref_idx)
{
	uint32_t cap = g->ref_cap;
	if (!grow((void **)&g->ref_slot, &cap, g->nrefs + 1, sizeof(*g->ref_slot)))
		luaL_error(L, "bpf.asm: out of memory");
	g->ref_cap = cap;
	g->ref_slot[g->nrefs++] = slot;
	push_list(L, B_REFS);
	lua_pushvalue(L, ref_idx);
	lua_rawseti(L, -2, (int)g->nrefs);
	lua_pop(L, 1);
}

/* ---- helper specs and the call check ----------------------------------------------------------- */

static const char *const KIND_NAMES[] = { "map", "ctx", "mem", "any", "int" };
static const uint8_t KIND_ACCEPT[] = {
	1u << P_MAP,
	1u << P_CTX,
	1u << P_STACK | 1u << P_CTX | 1u << P_MAPVAL | 1u << P_RETPTR,
	1u << P_STACK | 1u << P_CTX | 1u << P_MAPVAL | 1u << P_RETPTR | 1u << P_SCALAR | 1u << P_ZERO,
	1u << P_SCALAR | 1u << P_ZERO,
};

/* What an argument of this kind may hold; 0 (nothing: the Lua check decides) for a kind the
 * table does not know. */
static uint8_t accept_of(const char *kind)
{
	for (size_t i = 0; i < sizeof(KIND_NAMES) / sizeof(*KIND_NAMES); i++)
		if (strcmp(kind, KIND_NAMES[i]) == 0)
			return KIND_ACCEPT[i];
	return 0;
}

/* Builds a spec from state.spec_of(name): id, nargs, name, r0 a pointer, kinds 1..5. */
static const struct gen_spec *make_spec(lua_State *L, int name_idx)
{
	int top = lua_gettop(L);
	lua_getfield(L, GEN_UP_STATE, "spec_of");
	lua_pushvalue(L, name_idx);
	if (lua_pcall(L, 1, 9, 0) != LUA_OK) {
		lua_settop(L, top);
		return NULL;
	}
	struct gen_spec *s = lbpf_newuserdata(L, sizeof(*s));
	memset(s, 0, sizeof(*s));
	s->id = (int32_t)lua_tointeger(L, top + 1);
	s->nargs = (int)lua_tointeger(L, top + 2);
	const char *name = lua_tostring(L, top + 3);
	snprintf(s->name, sizeof(s->name), "%s", name ? name : "?");
	s->ret = lua_toboolean(L, top + 4) ? P_RETPTR : P_SCALAR;
	for (int i = 0; i < 5; i++) {
		const char *kind = lua_tostring(L, top + 5 + i);
		s->accept[i] = accept_of(kind ? kind : "int");
	}
	lua_pushvalue(L, name_idx);
	lua_pushvalue(L, -2);
	lua_rawset(L, GEN_UP_SPECS);
	lua_settop(L, top);
	return s;
}

/* The spec of the helper named at name_idx (cached), or NULL when the Lua side refuses it. */
static const struct gen_spec *spec_at(lua_State *L, int name_idx)
{
	lua_pushvalue(L, name_idx);
	lua_rawget(L, GEN_UP_SPECS);
	const struct gen_spec *s = lua_touserdata(L, -1);
	lua_pop(L, 1);
	return s ? s : make_spec(L, name_idx);
}

const struct gen_spec *gen_spec_of(lua_State *L, const char *name)
{
	lua_pushstring(L, name);
	const struct gen_spec *s = spec_at(L, lua_gettop(L));
	lua_pop(L, 1);
	return s;
}

/* Whether a call with nargs arguments, r1..r5 holding prov[1..5], passes the prototype. */
bool gen_check_call(const struct gen_spec *spec, int nargs, const uint8_t *prov)
{
	if (!spec || nargs != spec->nargs || nargs > 5)
		return false;
	for (int i = 1; i <= nargs; i++)
		if (!(spec->accept[i - 1] >> prov[i] & 1u))
			return false;
	return true;
}

/* The call passed: recorded, r0 set by the helper, r1..r5 forgotten. */
void gen_record_call(lua_State *L, struct gen *g, const struct gen_spec *spec)
{
	if (!grow((void **)&g->calls, &g->call_cap, g->ncalls + 1, sizeof(*g->calls)))
		luaL_error(L, "bpf.asm: out of memory");
	g->calls[g->ncalls++] = spec;
	g->prov[0] = spec->ret;
	gen_forget_args(g);
}

/* ---- ALU ------------------------------------------------------------------------------------- */

/* mov and add, the most frequent: what dst holds follows the source (a copy, or a pointer moved
 * by a constant); every other operation leaves a scalar. */
static int m_alu(lua_State *L)
{
	struct gen *g = gen_self(L);
	int code = (int)lua_tointeger(L, GEN_UP_CODE);
	bool is_mov = code == BPF_MOV, is_addsub = code == BPF_ADD || code == BPF_SUB;
	int64_t k;
	if (g->lua || g->finished)
		return gen_delegate(L);
	int d = reg_of(L, 2, 'r');
	if (d < 0) {
		int s = reg_of(L, 3, 'w');
		d = reg_of(L, 2, 'w');
		if (d < 0 || s < 0) /* w registers with immediates, mistakes */
			return gen_delegate(L);
		gen_reserve(L, g, 1);
		gen_put(g, BPF_ALU | code | BPF_X, (uint8_t)(d + s * 16), 0, 0);
		g->prov[d] = P_SCALAR;
	} else {
		int s = reg_of(L, 3, 'r');
		if (s >= 0) {
			gen_reserve(L, g, 1);
			gen_put(g, BPF_ALU64 | code | BPF_X, (uint8_t)(d + s * 16), 0, 0);
			g->prov[d] = is_mov ? g->prov[s] : P_SCALAR;
		} else if (gen_int(L, 3, &k) && gen_in_imm(k)) {
			gen_reserve(L, g, 1);
			gen_put(g, BPF_ALU64 | code | BPF_K, (uint8_t)d, 0, (int32_t)k);
			if (is_mov)
				g->prov[d] = k == 0 ? P_ZERO : P_SCALAR;
			else if (!is_addsub || g->prov[d] == P_ZERO)
				g->prov[d] = P_SCALAR;
		} else {
			return gen_delegate(L);
		}
	}
	lua_pushinteger(L, g->n);
	return 1;
}

/* dst = r10 + off: mov and add in one call. */
static int m_stack_ptr(lua_State *L)
{
	struct gen *g = gen_self(L);
	int d = reg_of(L, 2, 'r');
	int64_t off;
	if (g->lua || g->finished || d < 0 || !gen_int(L, 3, &off) || !gen_in_imm(off))
		return gen_delegate(L);
	gen_reserve(L, g, 2);
	gen_put(g, MOV_X, (uint8_t)(d + 160), 0, 0);
	gen_put(g, ADD_K, (uint8_t)d, 0, (int32_t)off);
	g->prov[d] = P_STACK;
	lua_pushinteger(L, g->n - 1);
	return 1;
}

/* ---- memory ---------------------------------------------------------------------------------- */

/* "u8" .. "u64": the size bits, else -1. */
static int size_of(lua_State *L, int idx)
{
	if (lua_type(L, idx) != LUA_TSTRING)
		return -1;
	const char *s = lua_tostring(L, idx);
	if (strcmp(s, "u64") == 0) return BPF_DW;
	if (strcmp(s, "u32") == 0) return BPF_W;
	if (strcmp(s, "u16") == 0) return BPF_H;
	if (strcmp(s, "u8") == 0) return BPF_B;
	return -1;
}

static int m_ldx(lua_State *L)
{
	struct gen *g = gen_self(L);
	int sz = size_of(L, 2), d = reg_of(L, 3, 'r'), s = reg_of(L, 4, 'r');
	int64_t off;
	if (g->lua || g->finished || sz < 0 || d < 0 || s < 0 || !gen_int(L, 5, &off) || !gen_in_off(off))
		return gen_delegate(L);
	gen_reserve(L, g, 1);
	gen_put(g, BPF_LDX | BPF_MEM | sz, (uint8_t)(d + s * 16), (int32_t)off, 0);
	g->prov[d] = P_SCALAR;
	lua_pushinteger(L, g->n);
	return 1;
}

static int m_stx(lua_State *L)
{
	struct gen *g = gen_self(L);
	int sz = size_of(L, 2), d = reg_of(L, 3, 'r'), s = reg_of(L, 5, 'r');
	int64_t off;
	if (g->lua || g->finished || sz < 0 || d < 0 || s < 0 || !gen_int(L, 4, &off) || !gen_in_off(off))
		return gen_delegate(L);
	gen_reserve(L, g, 1);
	gen_put(g, BPF_STX | BPF_MEM | sz, (uint8_t)(d + s * 16), (int32_t)off, 0);
	lua_pushinteger(L, g->n);
	return 1;
}

static int m_st(lua_State *L)
{
	struct gen *g = gen_self(L);
	int sz = size_of(L, 2), d = reg_of(L, 3, 'r');
	int64_t off, imm;
	if (g->lua || g->finished || sz < 0 || d < 0 || !gen_int(L, 4, &off) || !gen_in_off(off) ||
	    !gen_int(L, 5, &imm))
		return gen_delegate(L);
	if (sz != BPF_DW)
		imm = as_s32(imm);
	if (!gen_in_imm(imm))
		return gen_delegate(L);
	gen_reserve(L, g, 1);
	gen_put(g, BPF_ST | BPF_MEM | sz, (uint8_t)d, (int32_t)off, (int32_t)imm);
	lua_pushinteger(L, g->n);
	return 1;
}

/* atomic("add", size, dst, off, src): the lost-record counter's increment (other operations go to
 * the Lua builder). */
static int m_atomic(lua_State *L)
{
	struct gen *g = gen_self(L);
	int sz = size_of(L, 3), d = reg_of(L, 4, 'r'), s = reg_of(L, 6, 'r');
	int64_t off;
	if (g->lua || g->finished || lua_type(L, 2) != LUA_TSTRING || strcmp(lua_tostring(L, 2), "add") ||
	    (sz != BPF_W && sz != BPF_DW) || d < 0 || s < 0 || !gen_int(L, 5, &off) || !gen_in_off(off))
		return gen_delegate(L);
	gen_reserve(L, g, 1);
	gen_put(g, (uint8_t)(BPF_STX | sz | BPF_ATOMIC), (uint8_t)(d + s * 16), (int32_t)off, BPF_ADD);
	lua_pushinteger(L, g->n);
	return 1;
}

/* ---- 64-bit loads ------------------------------------------------------------------------------ */

static int m_ld_imm64(lua_State *L)
{
	struct gen *g = gen_self(L);
	int d = reg_of(L, 2, 'r');
	if (g->lua || g->finished || d < 0)
		return gen_delegate(L);
#if LBPF_LUA_INTEGERS
	if (!lua_isinteger(L, 3)) /* floats: the Lua builder's own split */
		return gen_delegate(L);
	uint64_t v = (uint64_t)lua_tointeger(L, 3);
#else
	int64_t k;
	if (!gen_int(L, 3, &k) || k > (1LL << 53) || k < -(1LL << 53))
		return gen_delegate(L);
	uint64_t v = (uint64_t)k;
#endif
	gen_reserve(L, g, 2);
	gen_put(g, LD_IMM64, (uint8_t)d, 0, (int32_t)(uint32_t)v);
	gen_put(g, 0, 0, 0, (int32_t)(uint32_t)(v >> 32));
	g->prov[d] = P_SCALAR;
	lua_pushinteger(L, g->n - 1);
	return 1;
}

/* ld_map and ld_map_value (upvalue 4: the pseudo source): a map reference's two slots. */
static int m_ld_ref(lua_State *L)
{
	struct gen *g = gen_self(L);
	int pseudo = (int)lua_tointeger(L, GEN_UP_CODE);
	int d = reg_of(L, 2, 'r');
	int64_t hi = 0;
	if (g->lua || g->finished || d < 0 || !gen_is_ref(L, 3))
		return gen_delegate(L);
	if (pseudo == BPF_PSEUDO_MAP_VALUE && !lua_isnoneornil(L, 4) &&
	    (!gen_int(L, 4, &hi) || hi < 0 || hi >= (int64_t)TWO31))
		return gen_delegate(L);
	gen_reserve(L, g, 2);
	gen_put(g, LD_IMM64, (uint8_t)(d + pseudo * 16), 0, 0);
	gen_put(g, 0, 0, 0, (int32_t)hi);
	gen_set_map_ref(L, g, g->n - 1, 3);
	g->prov[d] = pseudo == BPF_PSEUDO_MAP_VALUE ? P_MAPVAL : P_MAP;
	lua_pushinteger(L, g->n - 1);
	return 1;
}

/* ---- labels and jumps ---------------------------------------------------------------------------- */

static int m_new_label(lua_State *L)
{
	struct gen *g = gen_self(L);
	if (g->lua || g->finished)
		return gen_delegate(L);
	uint32_t id = g->label_seq + 1;
	uint32_t cap = g->label_cap;
	if (!grow((void **)&g->label_slot, &cap, id + 1, sizeof(*g->label_slot)))
		luaL_error(L, "bpf.asm: out of memory");
	g->label_cap = cap;
	g->label_slot[id] = -1;
	g->label_seq = id;
	push_list(L, B_HINTS);
	lua_pushvalue(L, 2);
	lua_rawseti(L, -2, (int)id);
	lua_pushinteger(L, id);
	return 1;
}

/* A label made by new_label, from the value at idx: its id, else 0. */
static uint32_t label_at(lua_State *L, struct gen *g, int idx)
{
	int64_t id;
	if (!gen_int(L, idx, &id) || id < 1 || id > (int64_t)g->label_seq)
		return 0;
	return (uint32_t)id;
}

static int m_label(lua_State *L)
{
	struct gen *g = gen_self(L);
	uint32_t id = label_at(L, g, 2);
	if (g->lua || g->finished || !id || g->label_slot[id] >= 0)
		return gen_delegate(L);
	g->label_slot[id] = (int32_t)g->n;
	gen_forget_args(g); /* a merge point: what r1..r5 hold depends on the way in */
	lua_settop(L, 1);
	return 1;
}

static int m_ja(lua_State *L)
{
	struct gen *g = gen_self(L);
	uint32_t id = label_at(L, g, 2);
	if (g->lua || g->finished || !id)
		return gen_delegate(L);
	gen_reserve(L, g, 1);
	gen_put(g, BPF_JMP | BPF_JA, 0, 0, 0);
	g->jump[g->n - 1] = (int32_t)id;
	lua_pushinteger(L, g->n);
	return 1;
}

/* A conditional jump of `code` from the arguments at dst (then src, label). */
static int jump(lua_State *L, struct gen *g, int code, int dst)
{
	int cls = BPF_JMP;
	char prefix = 'r';
	int d = reg_of(L, dst, 'r');
	int64_t k;
	uint32_t id = label_at(L, g, dst + 2);
	if (d < 0) {
		d = reg_of(L, dst, 'w');
		cls = BPF_JMP32;
		prefix = 'w';
	}
	if (g->lua || g->finished || d < 0 || !id)
		return gen_delegate(L);
	int s = reg_of(L, dst + 1, prefix);
	gen_reserve(L, g, 1);
	if (s >= 0) {
		gen_put(g, (uint8_t)(cls | code | BPF_X), (uint8_t)(d + s * 16), 0, 0);
	} else if (gen_int(L, dst + 1, &k)) {
		if (cls == BPF_JMP32)
			k = as_s32(k);
		if (!gen_in_imm(k))
			return gen_delegate(L);
		gen_put(g, (uint8_t)(cls | code | BPF_K), (uint8_t)d, 0, (int32_t)k);
	} else {
		return gen_delegate(L);
	}
	g->jump[g->n - 1] = (int32_t)id;
	lua_pushinteger(L, g->n);
	return 1;
}

static int m_jump(lua_State *L)
{
	return jump(L, gen_self(L), (int)lua_tointeger(L, GEN_UP_CODE), 2);
}

static const struct { const char *text; int code; } JMP_TEXT[] = {
	{ "==", BPF_JEQ }, { "!=", BPF_JNE }, { ">", BPF_JGT }, { ">=", BPF_JGE }, { "<", BPF_JLT },
	{ "<=", BPF_JLE }, { "s>", BPF_JSGT }, { "s>=", BPF_JSGE }, { "s<", BPF_JSLT }, { "s<=", BPF_JSLE },
	{ "&", BPF_JSET },
};

static int m_jcond(lua_State *L)
{
	struct gen *g = gen_self(L);
	if (lua_type(L, 2) == LUA_TSTRING) {
		const char *t = lua_tostring(L, 2);
		for (size_t i = 0; i < sizeof(JMP_TEXT) / sizeof(*JMP_TEXT); i++)
			if (strcmp(t, JMP_TEXT[i].text) == 0)
				return jump(L, g, JMP_TEXT[i].code, 3);
	}
	return gen_delegate(L);
}

static int m_exit(lua_State *L)
{
	struct gen *g = gen_self(L);
	if (g->lua || g->finished)
		return gen_delegate(L);
	gen_reserve(L, g, 1);
	gen_put(g, BPF_JMP | BPF_EXIT, 0, 0, 0);
	lua_pushinteger(L, g->n);
	return 1;
}

/* call(helper, nargs): checked against the prototype; a refusal is the Lua builder's. */
static int m_call(lua_State *L)
{
	struct gen *g = gen_self(L);
	int64_t nargs;
	if (g->lua || g->finished || lua_type(L, 2) != LUA_TSTRING || !gen_int(L, 3, &nargs) ||
	    nargs < 0 || nargs > 5)
		return gen_delegate(L);
	const struct gen_spec *spec = spec_at(L, 2);
	if (!gen_check_call(spec, (int)nargs, g->prov))
		return gen_delegate(L);
	gen_record_call(L, g, spec);
	gen_reserve(L, g, 1);
	gen_put(g, CALL_INSN, 0, 0, spec->id);
	lua_pushinteger(L, g->n);
	return 1;
}

/* ---- stack and line info --------------------------------------------------------------------------- */

static int m_stack(lua_State *L)
{
	struct gen *g = gen_self(L);
	int64_t size, align;
	if (g->lua || g->finished || !gen_int(L, 2, &size))
		return gen_delegate(L);
	if (lua_isnoneornil(L, 3))
		align = size >= 8 ? 8 : size > 2 ? 4 : size;
	else if (!gen_int(L, 3, &align))
		return gen_delegate(L);
	if (size <= 0 || size > STACK_MAX || (align != 8 && align != 4 && align != 2 && align != 1))
		return gen_delegate(L);
	int64_t top = g->sp + size;
	top += (align - top % align) % align;
	if (top > STACK_MAX)
		return gen_delegate(L);
	g->sp = (uint32_t)top;
	lua_pushinteger(L, -top);
	return 1;
}

static int m_stack_used(lua_State *L)
{
	struct gen *g = gen_self(L);
	if (g->lua)
		return gen_delegate(L);
	lua_pushinteger(L, g->sp);
	return 1;
}

static int m_stack_reset(lua_State *L)
{
	struct gen *g = gen_self(L);
	int64_t used;
	if (g->lua || !gen_int(L, 2, &used) || used < 0 || used > g->sp)
		return gen_delegate(L);
	g->sp = (uint32_t)used;
	return 0;
}

/* line(file, line, col, text): the entry is written at the slot the next instruction takes; a
 * second line before any instruction replaces it. File and text are kept as given in the
 * table's line_str (2 per entry). */
static int m_line(lua_State *L)
{
	struct gen *g = gen_self(L);
	int64_t line, col = 0;
	bool has_col = !lua_isnoneornil(L, 4);
	if (g->lua || g->finished || !gen_int(L, 3, &line) || (has_col && !gen_int(L, 4, &col)) ||
	    (!lua_isnoneornil(L, 2) && lua_type(L, 2) != LUA_TSTRING) ||
	    (!lua_isnoneornil(L, 5) && lua_type(L, 5) != LUA_TSTRING))
		return gen_delegate(L);
	lua_settop(L, 5);
	if (lua_isnil(L, 2)) {
		lua_getfield(L, 1, "file");
		lua_replace(L, 2);
	}
	uint32_t k = g->nlines;
	if (k == 0 || g->lines[k - 1].slot != g->n) {
		uint32_t cap = g->line_cap;
		if (!grow((void **)&g->lines, &cap, k + 1, sizeof(*g->lines)))
			luaL_error(L, "bpf.asm: out of memory");
		g->line_cap = cap;
		g->nlines = ++k;
	}
	g->lines[k - 1] = (struct gen_line){ .slot = g->n, .line = line, .col = col, .has_col = has_col };
	g->cur_line = k;
	push_list(L, B_LINE_STR);
	lua_pushvalue(L, 2);
	lua_rawseti(L, -2, (int)(2 * k - 1));
	lua_pushvalue(L, 5);
	lua_rawseti(L, -2, (int)(2 * k));
	lua_settop(L, 1);
	return 1;
}

static int m_count(lua_State *L)
{
	struct gen *g = gen_self(L);
	if (g->lua)
		return gen_delegate(L);
	lua_pushinteger(L, g->n);
	return 1;
}

/* ---- finishing ------------------------------------------------------------------------------- */

/* Whether the Lua builder's finish would find nothing wrong (else it runs, and says what). */
static bool finish_ok(const struct gen *g)
{
	uint32_t n = g->n;
	if (n == 0)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		int32_t id = g->jump[i];
		if (!id)
			continue;
		int32_t target = g->label_slot[id];
		if (target < 0 || (uint32_t)target >= n)
			return false;
		int64_t delta = (int64_t)target - i - 1;
		if (!gen_in_off(delta))
			return false;
	}
	uint8_t last = g->ins[n - 1].code;
	if (last != (BPF_JMP | BPF_EXIT) && last != (BPF_JMP | BPF_JA) && last != (BPF_JMP32 | BPF_JA))
		return false;
	return !(n >= 2 && g->ins[n - 2].code == LD_IMM64);
}

static int m_finish(lua_State *L)
{
	struct gen *g = gen_self(L);
	if (g->lua)
		return gen_delegate(L);
	if (g->finished) {
		lua_settop(L, 1);
		return 1;
	}
	/* a line entry no instruction follows is dropped */
	if (g->nlines > 0 && g->lines[g->nlines - 1].slot == g->n)
		g->nlines--;
	if (!finish_ok(g))
		return gen_delegate(L);
	for (uint32_t i = 0; i < g->n; i++)
		if (g->jump[i])
			g->ins[i].off = (int16_t)(g->label_slot[g->jump[i]] - (int32_t)i - 1);
	g->finished = true;
	lua_settop(L, 1);
	return 1;
}

/* ---- the Lua builder's fields ------------------------------------------------------------------ */

static void set_int(lua_State *L, const char *field, lua_Integer v)
{
	lua_pushinteger(L, v);
	lua_setfield(L, 1, field);
}

static void export_slots(lua_State *L, const struct gen *g)
{
	lua_createtable(L, (int)(4 * g->n), 0);
	for (uint32_t i = 0; i < g->n; i++) {
		const struct bpf_insn *s = &g->ins[i];
		lua_pushinteger(L, s->code);
		lua_rawseti(L, -2, (int)(4 * i + 1));
		lua_pushinteger(L, s->dst_reg + 16 * s->src_reg);
		lua_rawseti(L, -2, (int)(4 * i + 2));
		lua_pushinteger(L, s->off);
		lua_rawseti(L, -2, (int)(4 * i + 3));
		lua_pushinteger(L, s->imm);
		lua_rawseti(L, -2, (int)(4 * i + 4));
	}
	lua_setfield(L, 1, "ins");
	lua_newtable(L);
	for (uint32_t i = 0; i < g->n; i++) {
		if (g->jump[i]) {
			lua_pushinteger(L, g->jump[i]);
			lua_rawseti(L, -2, (int)(i + 1));
		}
	}
	lua_setfield(L, 1, "jump_label");
	lua_newtable(L);
	for (uint32_t id = 1; id <= g->label_seq; id++) {
		if (g->label_slot[id] >= 0) {
			lua_pushinteger(L, g->label_slot[id]);
			lua_rawseti(L, -2, (int)id);
		}
	}
	lua_setfield(L, 1, "labels");
}

/* line_str[i], or "" when it is nil (the Lua builder's `file or ""`). */
static void push_str_or_empty(lua_State *L, int line_str, int i)
{
	lua_rawgeti(L, line_str, i);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_pushliteral(L, "");
	}
}

static void export_lines(lua_State *L, const struct gen *g)
{
	push_list(L, B_LINE_STR);
	int line_str = lua_gettop(L);
	lua_createtable(L, (int)(5 * g->nlines), 0);
	for (uint32_t e = 0; e < g->nlines; e++) {
		const struct gen_line *l = &g->lines[e];
		lua_pushinteger(L, l->slot);
		lua_rawseti(L, -2, (int)(5 * e + 1));
		push_str_or_empty(L, line_str, (int)(2 * e + 1));
		lua_rawseti(L, -2, (int)(5 * e + 2));
		lua_pushinteger(L, (lua_Integer)l->line);
		lua_rawseti(L, -2, (int)(5 * e + 3));
		lua_pushinteger(L, (lua_Integer)l->col);
		lua_rawseti(L, -2, (int)(5 * e + 4));
		push_str_or_empty(L, line_str, (int)(2 * e + 2));
		lua_rawseti(L, -2, (int)(5 * e + 5));
	}
	lua_setfield(L, 1, "lines");
	set_int(L, "nlines", 5 * g->nlines);
	if (g->cur_line) {
		const struct gen_line *l = &g->lines[g->cur_line - 1];
		lua_rawgeti(L, line_str, (int)(2 * g->cur_line - 1));
		lua_setfield(L, 1, "cur_file");
		set_int(L, "cur_line", (lua_Integer)l->line);
		if (l->has_col)
			set_int(L, "cur_col", (lua_Integer)l->col);
		lua_rawgeti(L, line_str, (int)(2 * g->cur_line));
		lua_setfield(L, 1, "cur_text");
	}
	lua_pop(L, 1);
}

/* prov[0..10] as the Lua builder keeps it: its texts, false for unset. */
static void export_prov(lua_State *L, const struct gen *g)
{
	lua_getfield(L, GEN_UP_STATE, "prov_text");
	int text = lua_gettop(L);
	lua_createtable(L, 10, 1);
	for (int r = 0; r <= 10; r++) {
		if (g->prov[r] == P_NONE)
			lua_pushboolean(L, 0);
		else
			lua_rawgeti(L, text, g->prov[r]);
		lua_rawseti(L, -2, r);
	}
	lua_setfield(L, 1, "prov");
	lua_pop(L, 1);
}

/* map_ref (slot → reference) and label_hint, from the table's lists. */
static void export_refs(lua_State *L, const struct gen *g)
{
	lua_getfield(L, 1, "map_ref");
	if (!lua_istable(L, -1)) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, -1);
		lua_setfield(L, 1, "map_ref");
	}
	push_list(L, B_REFS);
	for (uint32_t i = 0; i < g->nrefs; i++) {
		lua_rawgeti(L, -1, (int)(i + 1));
		lua_rawseti(L, -3, (int)g->ref_slot[i]);
	}
	lua_pop(L, 2);
	push_list(L, B_HINTS);
	lua_setfield(L, 1, "label_hint");
}

static void export_calls(lua_State *L, const struct gen *g)
{
	lua_createtable(L, (int)g->ncalls, 0);
	for (uint32_t i = 0; i < g->ncalls; i++) {
		lua_pushstring(L, g->calls[i]->name);
		lua_rawseti(L, -2, (int)(i + 1));
	}
	lua_setfield(L, 1, "helper_calls");
	set_int(L, "ncalls", g->ncalls);
}

/* export(b): the fields of bpf.asm_fast's Lua builder from the C state (the table becomes one;
 * the caller sets its metatable). Returns whether finish passed, nil when already done. */
static int m_export(lua_State *L)
{
	struct gen *g = gen_self(L);
	if (g->lua)
		return 0;
	g->lua = true;
	set_int(L, "n", g->n);
	export_slots(L, g);
	export_lines(L, g);
	export_prov(L, g);
	export_calls(L, g);
	export_refs(L, g);
	set_int(L, "sp", g->sp);
	set_int(L, "label_seq", g->label_seq);
	/* funcs = { { name = b.name, start = 0, nargs = 1, main = true } } */
	lua_createtable(L, 1, 0);
	lua_createtable(L, 0, 4);
	lua_getfield(L, 1, "name");
	lua_setfield(L, -2, "name");
	lua_pushinteger(L, 0);
	lua_setfield(L, -2, "start");
	lua_pushinteger(L, 1);
	lua_setfield(L, -2, "nargs");
	lua_pushboolean(L, 1);
	lua_setfield(L, -2, "main");
	lua_rawseti(L, -2, 1);
	lua_setfield(L, 1, "funcs");
	lua_pushboolean(L, 0);
	lua_setfield(L, 1, "finished");
	lua_pushboolean(L, g->finished);
	gen_free(g); /* the Lua builder has it all now */
	return 1;
}

/* ---- set-up ---------------------------------------------------------------------------------- */

/* gen_new(b [, size]): the C state into b[B_GEN] (r1 the context, r10 the stack) with the
 * lists beside it; size a hint. */
static int l_gen_new(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_Integer size = luaL_optinteger(L, 2, 64);
	luaL_argcheck(L, size >= 0 && size <= (1 << 20), 2, "size out of range");
	struct gen_box *box = lbpf_newuserdata(L, sizeof(*box));
	memset(box, 0, sizeof(*box));
	box->magic = GEN_MAGIC;
	luaL_getmetatable(L, GEN_MT);
	lua_setmetatable(L, -2);
	struct gen *g = &box->g;
	g->prov[1] = P_CTX;
	g->prov[10] = P_STACK;
	gen_reserve(L, g, (uint32_t)(size > 0 ? size : 1));
	lua_rawseti(L, 1, B_GEN);
	/* room for what a program of that size has (size is about its source's length: a
	 * statement, with its line entry of 2 strings, per 16 bytes, a map reference or label per
	 * 32); an array made bigger costs its clearing */
	lua_createtable(L, (int)(size / 8), 0);
	lua_rawseti(L, 1, B_LINE_STR);
	lua_createtable(L, (int)(size / 32), 0);
	lua_rawseti(L, 1, B_REFS);
	lua_createtable(L, (int)(size / 32), 0);
	lua_rawseti(L, 1, B_HINTS);
	return 0;
}

void gen_add_method(lua_State *L, int methods, int state, int specs, const char *name,
		    lua_CFunction fn, int code)
{
	lua_pushvalue(L, state);
	lua_pushvalue(L, specs);
	lua_pushstring(L, name);
	lua_pushinteger(L, code);
	lua_pushcclosure(L, fn, 4);
	lua_setfield(L, methods, name);
}

static const struct { const char *name; int code; } ALU_NAMES[] = {
	{ "add", BPF_ADD }, { "sub", BPF_SUB }, { "mul", BPF_MUL }, { "div", BPF_DIV },
	{ "or_", BPF_OR }, { "and_", BPF_AND }, { "lsh", BPF_LSH }, { "rsh", BPF_RSH },
	{ "mod", BPF_MOD }, { "xor", BPF_XOR }, { "mov", BPF_MOV }, { "arsh", BPF_ARSH },
};
static const struct { const char *name; int code; } JUMP_NAMES[] = {
	{ "jeq", BPF_JEQ }, { "jne", BPF_JNE }, { "jgt", BPF_JGT }, { "jge", BPF_JGE }, { "jlt", BPF_JLT },
	{ "jle", BPF_JLE }, { "jsgt", BPF_JSGT }, { "jsge", BPF_JSGE }, { "jslt", BPF_JSLT },
	{ "jsle", BPF_JSLE }, { "jset", BPF_JSET },
};
static const struct { const char *name; lua_CFunction fn; } PLAIN[] = {
	{ "stack_ptr", m_stack_ptr }, { "ldx", m_ldx }, { "stx", m_stx }, { "st", m_st },
	{ "ld_imm64", m_ld_imm64 }, { "atomic", m_atomic }, { "new_label", m_new_label }, { "label", m_label },
	{ "ja", m_ja }, { "jmp", m_ja }, { "jcond", m_jcond }, { "exit", m_exit }, { "call", m_call },
	{ "stack", m_stack }, { "stack_used", m_stack_used }, { "stack_reset", m_stack_reset },
	{ "line", m_line }, { "count", m_count }, { "finish", m_finish }, { "export", m_export },
};

/* gen_methods(state) -> the C methods, each with upvalues state (materialize, spec_of,
 * prov_text), the spec cache, its name and opcode. */
static int l_gen_methods(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	lua_newtable(L); /* 2: the spec cache */
	lua_newtable(L); /* 3: the methods */
	for (size_t i = 0; i < sizeof(ALU_NAMES) / sizeof(*ALU_NAMES); i++)
		gen_add_method(L, 3, 1, 2, ALU_NAMES[i].name, m_alu, ALU_NAMES[i].code);
	for (size_t i = 0; i < sizeof(JUMP_NAMES) / sizeof(*JUMP_NAMES); i++)
		gen_add_method(L, 3, 1, 2, JUMP_NAMES[i].name, m_jump, JUMP_NAMES[i].code);
	for (size_t i = 0; i < sizeof(PLAIN) / sizeof(*PLAIN); i++)
		gen_add_method(L, 3, 1, 2, PLAIN[i].name, PLAIN[i].fn, 0);
	gen_add_method(L, 3, 1, 2, "ld_map", m_ld_ref, BPF_PSEUDO_MAP_FD);
	gen_add_method(L, 3, 1, 2, "ld_map_value", m_ld_ref, BPF_PSEUDO_MAP_VALUE);
	gen_add_seq_methods(L, 3, 1, 2);
	return 1;
}

void lbpf_lua_asm_gen_funcs(lua_State *L)
{
	if (luaL_newmetatable(L, GEN_MT)) {
		lua_pushcfunction(L, gen_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_pop(L, 1);
	lua_pushcfunction(L, l_gen_new);
	lua_setfield(L, -2, "gen_new");
	lua_pushcfunction(L, l_gen_methods);
	lua_setfield(L, -2, "gen_methods");
}
