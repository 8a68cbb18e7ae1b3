/* Spec support for spec/parity_spec.lua: loads one BPF object with libbpf (the yardstick) or
 * with luabpf and prints what the kernel holds, the same way for both so the outputs compare. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "luabpf.h"

/*
 * Output, one item a line:
 *   ok                      or   failed <reason on one line>
 *   map <kernel name>       every map the object created, in creation order
 *   prog <name> <n>         a loaded program and its count of translated instructions, then
 *   <i> <code> <dst> <src> <off> <imm>   each instruction; the id of a map in an ld_imm64
 *                           (src 1 or 2) reads "map:<kernel name>", an address held by an
 *                           ld_imm64 (a kernel pointer, different in every load) reads "addr"
 */

static char last_message[2048];

static int keep_libbpf_message(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[1024];

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (strlen(last_message) + strlen(line) < sizeof(last_message))
		strcat(last_message, line);
	return 0;
}

static void one_line(char *s)
{
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

static void map_name_by_id(uint32_t id, char *out, size_t size)
{
	struct bpf_map_info info;
	uint32_t len = sizeof(info);
	int fd = lbpf_fd_by_id(LBPF_ID_MAP, id);

	snprintf(out, size, "id%u", id);
	if (fd < 0)
		return;
	memset(&info, 0, sizeof(info));
	if (lbpf_obj_info(fd, &info, &len) == 0)
		snprintf(out, size, "%s", info.name);
	close(fd);
}

static void print_insn(size_t i, const struct bpf_insn *insn, const char *imm)
{
	char num[16];

	if (!imm) {
		snprintf(num, sizeof(num), "%d", insn->imm);
		imm = num;
	}
	printf("%zu %02x %u %u %d %s\n", i, insn->code, insn->dst_reg, insn->src_reg, insn->off,
	       imm);
}

/* Both halves of an ld_imm64: a map id becomes the map's name, a kernel address "addr". */
static void print_ld_imm64(size_t i, const struct bpf_insn *insn)
{
	uint64_t value = (uint32_t)insn[0].imm | (uint64_t)(uint32_t)insn[1].imm << 32;
	char name[40];

	if (insn->src_reg == 1 || insn->src_reg == 2) {
		snprintf(name, sizeof(name), "map:");
		map_name_by_id((uint32_t)insn->imm, name + 4, sizeof(name) - 4);
		print_insn(i, insn, name);
		print_insn(i + 1, insn + 1, NULL);
	} else if (insn->src_reg == 0 && value >= 0xffff800000000000ull) {
		print_insn(i, insn, "addr");
		print_insn(i + 1, insn + 1, "addr");
	} else {
		print_insn(i, insn, NULL);
		print_insn(i + 1, insn + 1, NULL);
	}
}

static void dump_program(const char *name, int fd)
{
	struct bpf_insn *insns = NULL;
	size_t count = 0;

	if (lbpf_prog_xlated(fd, &insns, &count) < 0) {
		printf("prog %s xlated-unreadable\n", name);
		return;
	}
	printf("prog %s %zu\n", name, count);
	for (size_t i = 0; i < count; i++) {
		if (insns[i].code == (BPF_LD | BPF_IMM | BPF_DW) && i + 1 < count) {
			print_ld_imm64(i, &insns[i]);
			i++;
		} else
			print_insn(i, &insns[i], NULL);
	}
	free(insns);
}

static void dump_map(int fd)
{
	struct bpf_map_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (fd >= 0 && lbpf_obj_info(fd, &info, &len) == 0)
		printf("map %s\n", info.name);
}

static int with_libbpf(const char *path, const char *pin_root)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_root);
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct bpf_map *map;

	libbpf_set_print(keep_libbpf_message);
	obj = bpf_object__open_file(path, &opts);
	if (!obj || bpf_object__load(obj)) {
		one_line(last_message);
		printf("failed %s\n", last_message[0] ? last_message : strerror(errno));
		bpf_object__close(obj);
		return 0;
	}
	printf("ok\n");
	bpf_object__for_each_map(map, obj)
		dump_map(bpf_map__fd(map));
	bpf_object__for_each_program(prog, obj)
		if (bpf_program__fd(prog) >= 0)
			dump_program(bpf_program__name(prog), bpf_program__fd(prog));
	bpf_object__close(obj);
	return 0;
}

static int with_luabpf(const char *path, const char *pin_root)
{
	struct lbpf_open_opts opts = { .pin_root = pin_root };
	lbpf_object *obj = NULL;

	if (lbpf_object_open_file(path, &opts, &obj) < 0 || lbpf_object_load(obj) < 0) {
		snprintf(last_message, sizeof(last_message), "%s", lbpf_errmsg());
		one_line(last_message);
		printf("failed %s\n", last_message);
		lbpf_object_close(obj);
		return 0;
	}
	printf("ok\n");
	for (size_t i = 0; i < lbpf_object_map_count(obj); i++)
		dump_map(lbpf_map_fd(lbpf_object_map_at(obj, i)));
	for (size_t i = 0; i < lbpf_object_program_count(obj); i++) {
		lbpf_program *prog = lbpf_object_program_at(obj, i);

		if (lbpf_program_fd(prog) >= 0)
			dump_program(lbpf_program_name(prog), lbpf_program_fd(prog));
	}
	lbpf_object_close(obj);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3 || (strcmp(argv[1], "libbpf") && strcmp(argv[1], "luabpf"))) {
		fprintf(stderr, "usage: %s libbpf|luabpf OBJECT [PIN_ROOT]\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	if (!strcmp(argv[1], "libbpf"))
		return with_libbpf(argv[2], argc > 3 ? argv[3] : NULL);
	return with_luabpf(argv[2], argc > 3 ? argv[3] : NULL);
}
