/*
 * The trace compiler's frequent sequences, each written in one call of the C builder
 * (lasm_gen.c): map lookup and update, an aggregation's update, the log2 and lhist slots,
 * zeroing, get_current_comm and a ring-buffer record. Before each helper call of a sequence,
 * what its own instructions put in r1..rN is set and checked against the prototype, as call()
 * does; a sequence's arguments the C path does not take go to the Lua builder (bpf.asm_fast).
 */
#include <math.h>
#include <string.h>

#include "lasm_gen.h"

#define TWO31 2147483648.0


/* A stack offset from b:stack (negative, 16 bits) at idx. */
static bool stack_off_at(lua_State *L, int idx, int64_t *out)
{
	return gen_int(L, idx, out) && gen_in_off(*out) && *out < 0;
}

/* `r1 = map; r2 = r10 + key`: returns the slot of the map load (0-based). */
static uint32_t put_map_key(struct gen *g, int64_t key)
{
	uint32_t at = g->n;
	gen_put(g, LD_IMM64, 1 + BPF_PSEUDO_MAP_FD * 16, 0, 0);
	gen_put(g, 0, 0, 0, 0);
	gen_put(g, MOV_X, 2 + 160, 0, 0);
	gen_put(g, ADD_K, 2, 0, (int32_t)key);
	return at;
}

/* `r3 = r10 + val; r4 = flags` and the update call. */
static void put_update_rest(struct gen *g, int64_t val, int64_t flags, int32_t update_id)
{
	gen_put(g, MOV_X, 3 + 160, 0, 0);
	gen_put(g, ADD_K, 3, 0, (int32_t)val);
	gen_put(g, MOV_K, 4, 0, (int32_t)flags);
	gen_put(g, CALL_INSN, 0, 0, update_id);
}

/* The prov a sequence sets before its call: r1..r4 as given (P_COUNT: left as they are). */
static void prov_with(const struct gen *g, uint8_t *p, int r1, int r2, int r3, int r4)
{
	memcpy(p, g->prov, sizeof(g->prov));
	int set[4] = { r1, r2, r3, r4 };
	for (int i = 0; i < 4; i++)
		if (set[i] != P_COUNT)
			p[i + 1] = (uint8_t)set[i];
}

static void push_count(lua_State *L, const struct gen *g) { lua_pushinteger(L, g->n); }

/* The spec of a sequence's helper when its call, r1..r4 as given in p (prov_with), passes the
 * prototype; NULL sends the whole sequence to the Lua builder. */
static const struct gen_spec *seq_call(lua_State *L, struct gen *g, const char *helper, int nargs,
				       uint8_t *p, int r1, int r2, int r3, int r4)
{
	const struct gen_spec *spec = gen_spec_of(L, helper);
	prov_with(g, p, r1, r2, r3, r4);
	return gen_check_call(spec, nargs, p) ? spec : NULL;
}

/* The sequence's call passed: what its instructions set in r1..r4, then the call recorded. */
static void seq_called(lua_State *L, struct gen *g, const struct gen_spec *spec, const uint8_t *p)
{
	memcpy(g->prov, p, sizeof(g->prov));
	gen_record_call(L, g, spec);
}

/* map_lookup(ref, key): r0 = map_lookup_elem(map, r10 + key). */
static int m_map_lookup(lua_State *L)
{
	struct gen *g = gen_self(L);
	int64_t key;
	uint8_t p[11];
	if (g->lua || g->finished || !gen_is_ref(L, 2) || !gen_int(L, 3, &key) || !gen_in_off(key))
		return gen_delegate(L);
	const struct gen_spec *lookup = seq_call(L, g, "map_lookup_elem", 2, p, P_MAP, P_STACK,
						 P_COUNT, P_COUNT);
	if (!lookup)
		return gen_delegate(L);
	gen_reserve(L, g, 5);
	uint32_t at = put_map_key(g, key);
	gen_put(g, CALL_INSN, 0, 0, lookup->id);
	gen_set_map_ref(L, g, at + 1, 2);
	seq_called(L, g, lookup, p);
	push_count(L, g);
	return 1;
}

/* map_update(ref, key, val [, flags]): map_update_elem(map, r10 + key, r10 + val, flags). */
static int m_map_update(lua_State *L)
{
	struct gen *g = gen_self(L);
	int64_t key, val, flags = 0;
	uint8_t p[11];
	if (g->lua || g->finished || !gen_is_ref(L, 2) || !gen_int(L, 3, &key) || !gen_in_off(key) ||
	    !gen_int(L, 4, &val) || !gen_in_off(val) ||
	    (!lua_isnoneornil(L, 5) && (!gen_int(L, 5, &flags) || !gen_in_imm(flags))))
		return gen_delegate(L);
	const struct gen_spec *update = seq_call(L, g, "map_update_elem", 4, p, P_MAP, P_STACK,
						 P_STACK, flags == 0 ? P_ZERO : P_SCALAR);
	if (!update)
		return gen_delegate(L);
	gen_reserve(L, g, 8);
	uint32_t at = put_map_key(g, key);
	put_update_rest(g, val, flags, update->id);
	gen_set_map_ref(L, g, at + 1, 2);
	seq_called(L, g, update, p);
	push_count(L, g);
	return 1;
}

/* ---- an aggregation's update ---------------------------------------------------------------- */

enum agg_kind { AGG_INC, AGG_SUM, AGG_AVG, AGG_MIN, AGG_MAX, AGG_NONE };

static enum agg_kind agg_kind_at(lua_State *L, int idx)
{
	static const char *const names[] = { "inc", "sum", "avg", "min", "max" };
	if (lua_type(L, idx) != LUA_TSTRING)
		return AGG_NONE;
	const char *s = lua_tostring(L, idx);
	for (int i = 0; i < AGG_NONE; i++)
		if (strcmp(s, names[i]) == 0)
			return (enum agg_kind)i;
	return AGG_NONE;
}

/* The value found (r0 its address): changed in place. Returns the slot of the min/max compare
 * (whose jump goes to the end), or 0. */
static uint32_t put_agg_change(struct gen *g, enum agg_kind kind, bool is_signed)
{
	uint32_t jcond = 0;
	if (kind == AGG_MIN || kind == AGG_MAX) {
		/* the stored value stays: min when r7 >= it, max when r7 <= it */
		int keep = kind == AGG_MIN ? (is_signed ? BPF_JSGE : BPF_JGE) : (is_signed ? BPF_JSLE : BPF_JLE);
		gen_put(g, LDX_DW, 1, 8, 0);
		gen_put(g, JEQ_K, 1, 2, 0);
		gen_put(g, LDX_DW, 1, 0, 0);
		jcond = g->n;
		gen_put(g, (uint8_t)(BPF_JMP | keep | BPF_X), 7 + 16, 0, 0);
		gen_put(g, STX_DW, 7 * 16, 0, 0);
		gen_put(g, ST_DW, 0, 8, 1);
		return jcond;
	}
	gen_put(g, LDX_DW, 1, 0, 0);
	if (kind == AGG_INC)
		gen_put(g, ADD_K, 1, 0, 1);
	else
		gen_put(g, ADD_X, 1 + 7 * 16, 0, 0);
	gen_put(g, STX_DW, 16, 0, 0);
	if (kind == AGG_AVG) {
		gen_put(g, LDX_DW, 1, 8, 0);
		gen_put(g, ADD_K, 1, 0, 1);
		gen_put(g, STX_DW, 16, 8, 0);
	}
	return 0;
}

/* aggregate_update(kind, ref, key, val, value_size, signed): the value at r10 + key looked up
 * and changed in place, or, when absent, built at r10 + val and stored (see bpf.asm_fast). */
static int m_aggregate_update(lua_State *L)
{
	struct gen *g = gen_self(L);
	enum agg_kind kind = agg_kind_at(L, 2);
	int64_t key, val, size;
	uint8_t p1[11], p2[11];
	bool ref_ok = false;
	if (lua_type(L, 3) == LUA_TTABLE) {
		lua_getfield(L, 3, "id");
		ref_ok = lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	if (g->lua || g->finished || kind == AGG_NONE || !ref_ok || !stack_off_at(L, 4, &key) ||
	    !stack_off_at(L, 5, &val) || !gen_int(L, 6, &size) || (size != 8 && size != 16))
		return gen_delegate(L);
	bool is_signed = lua_toboolean(L, 7);
	const struct gen_spec *lookup = seq_call(L, g, "map_lookup_elem", 2, p1, P_MAP, P_STACK,
						 P_COUNT, P_COUNT);
	const struct gen_spec *update = gen_spec_of(L, "map_update_elem");
	if (!lookup)
		return gen_delegate(L);
	memcpy(p2, p1, sizeof(p2));
	p2[0] = lookup->ret;
	p2[1] = P_MAP, p2[2] = P_STACK, p2[3] = P_STACK, p2[4] = P_ZERO, p2[5] = P_NONE;
	if (!gen_check_call(update, 4, p2))
		return gen_delegate(L);

	gen_reserve(L, g, 32);
	uint32_t map1 = put_map_key(g, key);
	gen_put(g, CALL_INSN, 0, 0, lookup->id);
	uint32_t jeq = g->n;
	gen_put(g, JEQ_K, 0, 0, 0); /* to init */
	uint32_t jcond = put_agg_change(g, kind, is_signed);
	uint32_t ja = g->n;
	gen_put(g, BPF_JMP | BPF_JA, 0, 0, 0); /* to done */
	uint32_t init = g->n;
	if (kind == AGG_INC) {
		gen_put(g, ST_DW, 10, (int32_t)val, 1);
	} else {
		gen_put(g, STX_DW, 10 + 7 * 16, (int32_t)val, 0);
		if (size == 16)
			gen_put(g, ST_DW, 10, (int32_t)(val + 8), 1);
	}
	uint32_t map2 = put_map_key(g, key);
	put_update_rest(g, val, 0, update->id);
	uint32_t last = g->n - 1; /* the update call; done is the slot after it */
	g->ins[jeq].off = (int16_t)(init - jeq - 1);
	g->ins[ja].off = (int16_t)(last - ja);
	if (jcond)
		g->ins[jcond].off = (int16_t)(last - jcond);
	gen_set_map_ref(L, g, map1 + 1, 3);
	gen_set_map_ref(L, g, map2 + 1, 3);
	seq_called(L, g, lookup, p1);
	seq_called(L, g, update, p2);
	push_count(L, g);
	return 1;
}

/* ---- histogram slots ------------------------------------------------------------------------- */

/* log2_slot(off): bpftrace's log2 slot of r7 (<0 → 0, 0 → 1, else 2 + floor(log2)) stored as a
 * u64 at r10 + off (r1..r3 clobbered): a binary search over the bit positions. */
static int m_log2_slot(lua_State *L)
{
	static const int shifts[] = { 32, 16, 8, 4, 2, 1 };
	struct gen *g = gen_self(L);
	int64_t off;
	if (g->lua || g->finished || !gen_int(L, 2, &off) || !gen_in_off(off))
		return gen_delegate(L);
	gen_reserve(L, g, 37);
	uint32_t first = g->n + 1;
	gen_put(g, MOV_K, 1, 0, 0);
	gen_put(g, BPF_JMP | BPF_JSLT | BPF_K, 7, 34, 0);
	gen_put(g, MOV_K, 1, 0, 1);
	gen_put(g, JEQ_K, 7, 32, 0);
	gen_put(g, MOV_X, 2 + 7 * 16, 0, 0);
	gen_put(g, MOV_K, 1, 0, 2);
	for (int i = 0; i < 6; i++) {
		gen_put(g, MOV_X, 3 + 2 * 16, 0, 0);
		gen_put(g, BPF_ALU64 | BPF_RSH | BPF_K, 3, 0, shifts[i]);
		gen_put(g, JEQ_K, 3, 2, 0);
		gen_put(g, MOV_X, 2 + 3 * 16, 0, 0);
		gen_put(g, ADD_K, 1, 0, shifts[i]);
	}
	gen_put(g, STX_DW, 10 + 16, (int32_t)off, 0);
	gen_forget_args(g);
	lua_pushinteger(L, first);
	return 1;
}

/* An integral double in the 32-bit immediate range. */
static bool imm_double(double v) { return v == floor(v) && v >= -TWO31 && v < TWO31; }

/* linear_slot(min, max, step, signed, off): lhist's slot of r7 stored as a u64 at r10 + off (r1,
 * r2 clobbered): below min 0, above max 1 + buckets, else 1 + (v - min) / step. Returns nil,
 * emitting nothing, for bounds beyond 32 bits (the caller emits it one instruction at a time). */
static int m_linear_slot(lua_State *L)
{
	struct gen *g = gen_self(L);
	int64_t off;
	if (g->lua || g->finished || lua_type(L, 2) != LUA_TNUMBER || lua_type(L, 3) != LUA_TNUMBER ||
	    lua_type(L, 4) != LUA_TNUMBER)
		return gen_delegate(L);
	double min = lua_tonumber(L, 2), max = lua_tonumber(L, 3), step = lua_tonumber(L, 4);
	double nb = floor((max - min) / step);
	if (!imm_double(min) || !imm_double(max) || !imm_double(step) || !imm_double(max - min) ||
	    !imm_double(1 + nb) || !gen_int(L, 6, &off) || !gen_in_off(off)) {
		lua_pushnil(L);
		return 1;
	}
	bool is_signed = lua_toboolean(L, 5);
	gen_reserve(L, g, 12);
	uint32_t first = g->n + 1;
	gen_put(g, MOV_K, 1, 0, 0);
	gen_put(g, MOV_K, 2, 0, (int32_t)min);
	gen_put(g, (uint8_t)(BPF_JMP | (is_signed ? BPF_JSLT : BPF_JLT) | BPF_X), 7 + 32, 8, 0);
	gen_put(g, MOV_K, 1, 0, (int32_t)(1 + nb));
	gen_put(g, MOV_K, 2, 0, (int32_t)max);
	gen_put(g, (uint8_t)(BPF_JMP | (is_signed ? BPF_JSGT : BPF_JGT) | BPF_X), 7 + 32, 5, 0);
	gen_put(g, MOV_X, 1 + 7 * 16, 0, 0);
	gen_put(g, BPF_ALU64 | BPF_SUB | BPF_X, 1 + 32, 0, 0);
	gen_put(g, ADD_K, 1, 0, (int32_t)(max - min));
	gen_put(g, BPF_ALU64 | BPF_DIV | BPF_K, 1, 0, (int32_t)step);
	gen_put(g, ADD_K, 1, 0, 1);
	gen_put(g, STX_DW, 10 + 16, (int32_t)off, 0);
	gen_forget_args(g);
	lua_pushinteger(L, first);
	return 1;
}

/* ---- stack buffers ------------------------------------------------------------------------------ */

/* size bytes of the stack at r10 + off zeroed: u64 stores, then u32, then u8. */
static void put_zero(struct gen *g, int64_t off, int64_t size)
{
	for (int64_t i = 0; i < size;) {
		int code = BPF_ST | BPF_MEM | BPF_B, w = 1;
		if (i + 8 <= size)
			code = ST_DW, w = 8;
		else if (i + 4 <= size)
			code = BPF_ST | BPF_MEM | BPF_W, w = 4;
		gen_put(g, (uint8_t)code, 10, (int32_t)(off + i), 0);
		i += w;
	}
}

/* Whether zeroing size bytes at off stays in 16-bit offsets (and how many slots it takes). */
static bool zero_ok(int64_t off, int64_t size)
{
	return gen_in_off(off) && size >= 0 && size <= 65536 && gen_in_off(off + (size > 0 ? size - 1 : 0));
}

static int m_zero(lua_State *L)
{
	struct gen *g = gen_self(L);
	int64_t off, size;
	if (g->lua || g->finished || !gen_int(L, 2, &off) || !gen_int(L, 3, &size) ||
	    !zero_ok(off, size))
		return gen_delegate(L);
	gen_reserve(L, g, (uint32_t)size);
	uint32_t first = g->n + 1;
	put_zero(g, off, size);
	lua_pushinteger(L, first);
	return 1;
}

/* current_comm(off, size): get_current_comm(r10 + off, min(16, size)) into the zeroed size
 * bytes at r10 + off. */
static int m_current_comm(lua_State *L)
{
	struct gen *g = gen_self(L);
	int64_t off, size;
	uint8_t p[11];
	if (g->lua || g->finished || !stack_off_at(L, 2, &off) || !gen_int(L, 3, &size) ||
	    !gen_in_off(size) || size <= 0 || !zero_ok(off, size))
		return gen_delegate(L);
	const struct gen_spec *comm = seq_call(L, g, "get_current_comm", 2, p, P_STACK, P_SCALAR,
					       P_COUNT, P_COUNT);
	if (!comm)
		return gen_delegate(L);
	gen_reserve(L, g, (uint32_t)size + 4);
	put_zero(g, off, size);
	gen_put(g, MOV_X, 1 + 160, 0, 0);
	gen_put(g, ADD_K, 1, 0, (int32_t)off);
	gen_put(g, MOV_K, 2, 0, size < 16 ? (int32_t)size : 16);
	gen_put(g, CALL_INSN, 0, 0, comm->id);
	seq_called(L, g, comm, p);
	push_count(L, g);
	return 1;
}

/* ringbuf_output(ringbuf, lost, off, size): ringbuf_output(ringbuf, r10 + off, size, 0); when it
 * fails, the u64 at the `lost` map's value incremented atomically. Returns the call's slot. */
static int m_ringbuf_output(lua_State *L)
{
	struct gen *g = gen_self(L);
	int64_t off, size;
	uint8_t p[11];
	if (g->lua || g->finished || !gen_is_ref(L, 2) || !gen_is_ref(L, 3) ||
	    !stack_off_at(L, 4, &off) || !gen_int(L, 5, &size) || !gen_in_imm(size) || size < 0)
		return gen_delegate(L);
	const struct gen_spec *output = seq_call(L, g, "ringbuf_output", 4, p, P_MAP, P_STACK,
						 size == 0 ? P_ZERO : P_SCALAR, P_ZERO);
	if (!output)
		return gen_delegate(L);
	gen_reserve(L, g, 12);
	uint32_t at = put_map_key(g, off);
	gen_put(g, MOV_K, 3, 0, (int32_t)size);
	gen_put(g, MOV_K, 4, 0, 0);
	gen_put(g, CALL_INSN, 0, 0, output->id);
	uint32_t call = g->n;
	gen_put(g, JEQ_K, 0, 4, 0);
	gen_put(g, LD_IMM64, 1 + BPF_PSEUDO_MAP_VALUE * 16, 0, 0);
	gen_put(g, 0, 0, 0, 0);
	gen_put(g, MOV_K, 2, 0, 1);
	gen_put(g, BPF_STX | BPF_DW | BPF_ATOMIC, 1 + 32, 0, BPF_ADD);
	gen_set_map_ref(L, g, at + 1, 2);
	gen_set_map_ref(L, g, at + 9, 3);
	seq_called(L, g, output, p);
	lua_pushinteger(L, call);
	return 1;
}

void gen_add_seq_methods(lua_State *L, int methods, int state, int specs)
{
	static const struct { const char *name; lua_CFunction fn; } seq[] = {
		{ "map_lookup", m_map_lookup }, { "map_update", m_map_update },
		{ "aggregate_update", m_aggregate_update }, { "log2_slot", m_log2_slot },
		{ "linear_slot", m_linear_slot }, { "zero", m_zero }, { "current_comm", m_current_comm },
		{ "ringbuf_output", m_ringbuf_output },
	};
	for (size_t i = 0; i < sizeof(seq) / sizeof(*seq); i++)
		gen_add_method(L, methods, state, specs, seq[i].name, seq[i].fn, 0);
}
