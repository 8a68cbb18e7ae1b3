/* The load pipeline: open (ELF → programs, maps, globals, relocations) and load (BTF → maps →
 * link and relocate → programs). Each stage lives in its own file; this one sequences them. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "btf_internal.h"
#include "core_reloc.h"
#include "error.h"
#include "internal.h"
#include "sys.h"

/* ---- open ------------------------------------------------------------------------------------ */

static char *name_from_path(const char *path)
{
	const char *base = strrchr(path, '/');
	char *name = strdup(base ? base + 1 : path);
	char *dot;

	if (!name)
		return NULL;
	if ((dot = strstr(name, ".bpf.o")) || (dot = strstr(name, ".o")))
		*dot = '\0';
	return name;
}

static void read_license_and_version(lbpf_object *obj)
{
	strcpy(obj->license, "");
	for (size_t i = 1; i < obj->elf.nsecs; i++) {
		const struct lbpf_elf_sec *sec = &obj->elf.secs[i];

		if (!sec->data)
			continue;
		if (!strcmp(sec->name, "license")) {
			size_t n = sec->size < sizeof(obj->license) - 1 ? sec->size : sizeof(obj->license) - 1;

			memcpy(obj->license, sec->data, n);
			obj->license[n] = '\0';
		} else if (!strcmp(sec->name, "version") && sec->size == sizeof(uint32_t)) {
			memcpy(&obj->kversion, sec->data, sizeof(uint32_t));
		}
	}
}

static int elf_sec_size(void *ctx, const char *name, uint32_t *size)
{
	const lbpf_object *obj = ctx;

	for (size_t i = 1; i < obj->elf.nsecs; i++)
		if (!strcmp(obj->elf.secs[i].name, name)) {
			size_t n = obj->elf.secs[i].size; /* NOBITS: as large as it claims */

			*size = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
			return 0;
		}
	return -ENOENT;
}

static int elf_var_offset(void *ctx, const char *var, uint32_t *off)
{
	const lbpf_object *obj = ctx;
	GElf_Sym sym;
	int ret = lbpf_elf_find_sym(&obj->elf, var, -1, STT_OBJECT, &sym);

	if (!ret)
		*off = (uint32_t)sym.st_value;
	return ret;
}

static int read_btf(lbpf_object *obj)
{
	const struct lbpf_elf_sec *sec;
	int ret;

	if (obj->elf.btf_shndx < 0)
		return 0;
	sec = &obj->elf.secs[obj->elf.btf_shndx];
	if (!sec->data)
		return lbpf_err(EINVAL, "object BTF (.BTF): the section has no contents (NOBITS)");
	ret = lbpf_btf_open_mem(sec->data, sec->size, &obj->btf);
	if (ret)
		return lbpf_err_prefix(ret, "object BTF (.BTF): ");
	ret = lbpf_btf_fixup_datasecs(obj->btf, elf_sec_size, elf_var_offset, obj);
	if (ret)
		return lbpf_err_prefix(ret, "object BTF (.BTF): ");
	if (obj->elf.btf_ext_shndx < 0)
		return 0;
	sec = &obj->elf.secs[obj->elf.btf_ext_shndx];
	if (!sec->data)
		return lbpf_err(EINVAL, "object BTF (.BTF.ext): the section has no contents (NOBITS)");
	ret = lbpf_btf_ext_parse(sec->data, sec->size, obj->btf, (struct lbpf_btf_ext **)&obj->btf_ext);
	if (!ret)
		ret = lbpf_btf_ext_check(obj->btf_ext, obj->btf, elf_sec_size, obj);
	return ret ? lbpf_err_prefix(ret, "object BTF (.BTF.ext): ") : 0;
}

static int set_options(lbpf_object *obj, const char *path, const struct lbpf_open_opts *opts)
{
	if (opts)
		obj->opts = *opts;
	obj->name = strdup(opts && opts->name ? opts->name : path ? path : "object");
	if (!obj->name)
		return lbpf_err(ENOMEM, "out of memory");
	if (!(opts && opts->name) && path) {
		free(obj->name);
		if (!(obj->name = name_from_path(path)))
			return lbpf_err(ENOMEM, "out of memory");
	}
	obj->pin_root = strdup(opts && opts->pin_root ? opts->pin_root : "/sys/fs/bpf");
	obj->btf_path = opts && opts->btf_path ? strdup(opts->btf_path) : NULL;
	if (!obj->pin_root || (opts && opts->btf_path && !obj->btf_path))
		return lbpf_err(ENOMEM, "out of memory");
	obj->opts.name = obj->name;
	obj->opts.pin_root = obj->pin_root;
	obj->opts.btf_path = obj->btf_path;
	return 0;
}

static int open_object(const void *data, size_t size, const char *path,
		       const struct lbpf_open_opts *opts, lbpf_object **out)
{
	lbpf_object *obj = calloc(1, sizeof(*obj));
	int ret;

	*out = NULL;
	if (!obj)
		return lbpf_err(ENOMEM, "out of memory");
	lbpf_err_clear();
	ret = set_options(obj, path, opts);
	if (!ret)
		ret = lbpf_elf_open(data, size, &obj->elf);
	if (!ret) {
		read_license_and_version(obj);
		if (opts && opts->kernel_version)
			obj->kversion = opts->kernel_version;
		else if (!obj->kversion)
			obj->kversion = lbpf_running_kversion();
		ret = read_btf(obj);
	}
	if (!ret)
		ret = lbpf_collect_code(obj);
	if (!ret)
		ret = lbpf_collect_maps(obj);
	if (!ret)
		ret = lbpf_collect_data_maps(obj);
	if (!ret)
		ret = lbpf_collect_externs(obj);
	if (!ret)
		ret = lbpf_collect_relocs(obj);
	if (!ret)
		ret = lbpf_collect_map_inits(obj);
	if (!ret)
		ret = lbpf_collect_struct_ops(obj);
	if (ret) {
		if (path)
			lbpf_err_prefix(ret, "%s: ", path);
		lbpf_object_close(obj);
		return ret;
	}
	for (size_t i = 0; i < obj->nmaps; i++)
		obj->maps[i].obj = obj;
	*out = obj;
	return 0;
}

int lbpf_object_open_mem(const void *data, size_t size, const struct lbpf_open_opts *opts,
			 lbpf_object **out)
{
	if (!data)
		return lbpf_err(EINVAL, "no object data");
	return open_object(data, size, NULL, opts, out);
}

static int read_file(const char *path, void **data, size_t *size)
{
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return lbpf_err(errno, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return lbpf_err(EINVAL, "%s is not a regular file", path);
	}
	*data = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!*data) {
		close(fd);
		return lbpf_err(ENOMEM, "out of memory reading %s", path);
	}
	n = read(fd, *data, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(*data);
		return lbpf_err(EIO, "short read of %s", path);
	}
	*size = (size_t)n;
	return 0;
}

int lbpf_object_open_file(const char *path, const struct lbpf_open_opts *opts, lbpf_object **out)
{
	void *data = NULL;
	size_t size = 0;
	int ret;

	*out = NULL;
	lbpf_err_clear();
	ret = read_file(path, &data, &size);
	if (ret)
		return ret;
	ret = open_object(data, size, path, opts, out);
	free(data);
	return ret;
}

/* ---- load ------------------------------------------------------------------------------------ */

uint32_t lbpf_running_kversion(void)
{
	struct utsname u;
	unsigned a = 0, b = 0, c = 0;

	if (uname(&u) < 0 || sscanf(u.release, "%u.%u.%u", &a, &b, &c) < 2)
		return 0;
	return (a << 16) + (b << 8) + (c > 255 ? 255 : c);
}

void lbpf_object_warn(lbpf_object *obj, const char *fmt, ...)
{
	char **grown = realloc(obj->warnings, (obj->nwarnings + 1) * sizeof(*grown));
	va_list ap;
	char *text;

	if (!grown)
		return;
	obj->warnings = grown;
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) >= 0)
		obj->warnings[obj->nwarnings++] = text;
	va_end(ap);
}

size_t lbpf_object_warning_count(const lbpf_object *obj) { return obj->nwarnings; }

const char *lbpf_object_warning_at(const lbpf_object *obj, size_t index)
{
	return index < obj->nwarnings ? obj->warnings[index] : NULL;
}

/* A BTF load failure in one line: its first line and the kernel log's last ("[8] STRUCT
 * a-b size=4 vlen=1 Invalid name"), the full log being a dump of every type before it. */
static char *short_reason(const char *msg)
{
	const char *nl = strchr(msg, '\n'), *end = msg + strlen(msg), *last;
	char *out;

	while (end > msg && (end[-1] == '\n' || end[-1] == ' '))
		end--;
	for (last = end; last > msg && last[-1] != '\n'; last--)
		;
	if (!nl || last <= nl)
		return strndup(msg, (size_t)(end - msg));
	if (asprintf(&out, "%.*s: %.*s", (int)(nl - msg), msg, (int)(end - last), last) < 0)
		return NULL;
	return out;
}

/* Like libbpf, programs load without the object's BTF when the kernel refuses it (they lose
 * source lines, and what needs BTF fails later): go on, but say so in a warning, and keep the
 * kernel's reason for any later failure's message. */
static int load_object_btf(lbpf_object *obj)
{
	int ret;

	if (!obj->btf)
		return 0;
	ret = lbpf_btf_load(obj->btf, obj->opts.btf_disable);
	if (ret >= 0)
		return 0;
	free(obj->btf_refusal);
	obj->btf_refusal = short_reason(lbpf_errmsg());
	lbpf_object_warn(obj, "object BTF not loaded, going on without it (no line info; spin "
			 "locks, timers and kptrs will be refused): %s",
			 obj->btf_refusal ? obj->btf_refusal : "out of memory");
	lbpf_err_clear();
	return 0;
}

/* What CO-RE relocations and BTF attach targets resolve against: the file opts.btf_path names
 * (owned by the object, freed at the end of load) or the process-wide kernel BTF (shared, parsed
 * once per process: never freed here). */
int lbpf_object_target_btf(lbpf_object *obj, const lbpf_btf **out)
{
	int ret = 0;

	if (!obj->btf_path)
		return lbpf_btf_kernel_shared(out);
	if (!obj->target_btf)
		ret = lbpf_btf_open_file(obj->btf_path, &obj->target_btf);
	*out = obj->target_btf;
	return ret;
}

/* set_attach_target with a program fd: the function is one of that program's, by its BTF. */
static int resolve_in_program(lbpf_program *prog)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	lbpf_btf *btf = NULL;
	int32_t id;
	int ret;

	memset(&info, 0, sizeof(info));
	ret = lbpf_obj_info(prog->attach_prog_fd, &info, &len);
	if (ret < 0)
		return lbpf_err(ret, "program '%s': its attach target fd is not a BPF program: %s",
				prog->name, lbpf_strerror(ret));
	if (!info.btf_id)
		return lbpf_err(EINVAL, "program '%s': the target program '%s' has no BTF, so its "
				"function '%s' cannot be found", prog->name, info.name, prog->attach_name);
	ret = lbpf_btf_from_id(info.btf_id, &btf);
	if (ret < 0)
		return lbpf_err_prefix(ret, "program '%s': BTF of the target program: ", prog->name);
	id = lbpf_btf_find(btf, prog->attach_name, BTF_KIND_FUNC);
	lbpf_btf_free(btf);
	if (id < 0)
		return lbpf_err(ENOENT, "program '%s': the target program '%s' has no function '%s'",
				prog->name, info.name, prog->attach_name);
	prog->attach_btf_id = (uint32_t)id;
	return 0;
}

int lbpf_program_resolve_attach_btf(lbpf_object *obj, lbpf_program *prog)
{
	char name[256];
	const char *prefix = "";
	int kind = BTF_KIND_FUNC;
	const lbpf_btf *vmlinux;
	int32_t id;
	int ret;

	if (prog->type == BPF_PROG_TYPE_EXT && prog->attach_prog_fd <= 0)
		return lbpf_err(EINVAL, "program '%s' (section '%s'): an freplace program needs the "
				"program it replaces: set its attach target before load (Lua: "
				"prog:set_attach_target(program, function), or prog:set{attach_target = "
				"{prog = ..., func = ...}})", prog->name, prog->sec_name);
	if (!prog->attach_btf_kind || prog->attach_btf_id)
		return 0;
	if (prog->attach_prog_fd > 0 && prog->attach_name)
		return resolve_in_program(prog);
	if (!prog->attach_name || !*prog->attach_name)
		return lbpf_err(EINVAL, "program '%s': section '%s' must name its target "
				"(e.g. tp_btf/sched_switch)", prog->name, prog->sec_name);
	if (prog->expected_attach_type == BPF_TRACE_RAW_TP) {
		prefix = "btf_trace_";
		kind = BTF_KIND_TYPEDEF;
	} else if (prog->expected_attach_type == BPF_LSM_MAC || prog->expected_attach_type == BPF_LSM_CGROUP) {
		prefix = "bpf_lsm_";
	} else if (prog->expected_attach_type == BPF_TRACE_ITER) {
		prefix = "bpf_iter_";
	}
	ret = lbpf_object_target_btf(obj, &vmlinux);
	if (ret)
		return lbpf_err_prefix(ret, "program '%s': kernel BTF needed for '%s': ", prog->name,
				       prog->sec_name);
	snprintf(name, sizeof(name), "%s%s", prefix, prog->attach_name);
	id = lbpf_btf_find(vmlinux, name, kind);
	if (id < 0)
		return lbpf_err(ENOENT, "program '%s': attach target '%s' not found in kernel BTF",
				prog->name, name);
	prog->attach_btf_id = (uint32_t)id;
	return 0;
}

static int create_maps(lbpf_object *obj)
{
	for (size_t i = 0; i < obj->nmaps; i++) {
		int ret = lbpf_map_create(&obj->maps[i]);

		if (ret)
			return ret;
	}
	return 0;
}

int lbpf_core_relocate_object(lbpf_object *obj);
int lbpf_resolve_externs(lbpf_object *obj, const lbpf_btf *vmlinux);

/* Externs need the running kernel's BTF only for typed __ksym variables and kfuncs. */
static int resolve_externs(lbpf_object *obj)
{
	const lbpf_btf *vmlinux = NULL;
	bool need_btf = false;

	for (size_t i = 0; i < obj->nexterns; i++)
		need_btf |= !obj->externs[i].kconfig;
	if (need_btf && lbpf_btf_kernel_shared(&vmlinux))
		vmlinux = NULL; /* weak externs still resolve to zero; others report */
	return lbpf_resolve_externs(obj, vmlinux);
}

static int load_programs(lbpf_object *obj)
{
	for (size_t i = 0; i < obj->nprogs; i++) {
		lbpf_program *prog = &obj->progs[i];
		int ret;

		if (!prog->autoload)
			continue;
		ret = lbpf_program_resolve_attach_btf(obj, prog);
		if (!ret)
			ret = lbpf_link_program(obj, prog);
		if (!ret)
			ret = lbpf_program_load(prog);
		if (ret)
			return ret;
	}
	return 0;
}

static void unload(lbpf_object *obj)
{
	for (size_t i = 0; i < obj->nprogs; i++) {
		if (obj->progs[i].fd >= 0)
			close(obj->progs[i].fd);
		obj->progs[i].fd = -1;
	}
	for (size_t i = 0; i < obj->nmaps; i++) {
		lbpf_map *m = &obj->maps[i];

		if (m->fd >= 0)
			close(m->fd);
		m->fd = -1;
	}
}

int lbpf_object_load(lbpf_object *obj)
{
	int ret;

	if (obj->loaded)
		return lbpf_err(EBUSY, "object '%s' is already loaded", obj->name);
	lbpf_err_clear();
	ret = load_object_btf(obj);
	if (!ret)
		ret = lbpf_core_relocate_object(obj);
	if (!ret)
		ret = resolve_externs(obj);
	if (!ret)
		ret = lbpf_struct_ops_prepare(obj);
	if (!ret)
		ret = create_maps(obj);
	if (!ret)
		ret = load_programs(obj);
	if (!ret)
		ret = lbpf_struct_ops_fill(obj);
	if (!ret)
		ret = lbpf_apply_map_inits(obj);
	lbpf_btf_free(obj->target_btf); /* only needed while relocating */
	obj->target_btf = NULL;
	lbpf_core_cache_free(obj->core_cache);
	obj->core_cache = NULL;
	if (ret) {
		unload(obj);
		if (obj->btf_refusal) {
			lbpf_err_append("\n(the kernel refused this object's BTF earlier, so it loaded "
					"without it: ");
			lbpf_err_append(obj->btf_refusal);
			lbpf_err_append(")");
		}
		return lbpf_err_prefix(ret, "object '%s': ", obj->name);
	}
	obj->loaded = true;
	return 0;
}

void lbpf_object_close(lbpf_object *obj)
{
	if (!obj)
		return;
	for (size_t i = 0; i < obj->nprogs; i++)
		lbpf_program_release(&obj->progs[i]);
	for (size_t i = 0; i < obj->nmaps; i++)
		lbpf_map_release(&obj->maps[i]);
	for (size_t i = 0; i < obj->ncode; i++) {
		free(obj->code[i].insns);
		free(obj->code[i].relocs);
	}
	lbpf_core_cache_free(obj->core_cache); /* left by a relocation that never reached load */
	lbpf_btf_ext_free(obj->btf_ext);
	lbpf_btf_free(obj->btf);
	lbpf_btf_free(obj->target_btf);
	lbpf_elf_close(&obj->elf);
	free(obj->progs);
	free(obj->maps);
	free(obj->code);
	free(obj->funcs);
	free(obj->globals);
	free(obj->externs);
	free(obj->inits);
	for (size_t i = 1; i < obj->fd_array_cnt; i++) {
		close(obj->fd_array[i]);
		free(obj->fd_array_names[i]);
	}
	free(obj->fd_array);
	free(obj->fd_array_names);
	for (size_t i = 0; i < obj->nwarnings; i++)
		free(obj->warnings[i]);
	free(obj->warnings);
	free(obj->btf_refusal);
	free(obj->name);
	free(obj->pin_root);
	free(obj->btf_path);
	free(obj->built_sec_name);
	free(obj);
}

/* ---- getters --------------------------------------------------------------------------------- */

const char *lbpf_object_name(const lbpf_object *obj) { return obj->name; }
bool lbpf_object_is_loaded(const lbpf_object *obj) { return obj->loaded; }
const char *lbpf_object_license(const lbpf_object *obj) { return obj->license; }
uint32_t lbpf_object_kversion(const lbpf_object *obj) { return obj->kversion; }
const lbpf_btf *lbpf_object_btf(const lbpf_object *obj) { return obj->btf; }
size_t lbpf_object_program_count(const lbpf_object *obj) { return obj->nprogs; }
size_t lbpf_object_map_count(const lbpf_object *obj) { return obj->nmaps; }
size_t lbpf_object_global_count(const lbpf_object *obj) { return obj->nglobals; }

lbpf_program *lbpf_object_program_at(lbpf_object *obj, size_t index)
{
	return index < obj->nprogs ? &obj->progs[index] : NULL;
}

lbpf_program *lbpf_object_program_by_name(lbpf_object *obj, const char *name)
{
	for (size_t i = 0; i < obj->nprogs; i++)
		if (!strcmp(obj->progs[i].name, name))
			return &obj->progs[i];
	return NULL;
}

lbpf_map *lbpf_object_map_at(lbpf_object *obj, size_t index)
{
	return index < obj->nmaps ? &obj->maps[index] : NULL;
}

lbpf_map *lbpf_object_map_by_name(lbpf_object *obj, const char *name)
{
	for (size_t i = 0; i < obj->nmaps; i++)
		if (!strcmp(obj->maps[i].name, name))
			return &obj->maps[i];
	return NULL;
}

int lbpf_object_global_at(lbpf_object *obj, size_t index, struct lbpf_global *out)
{
	const struct lbpf_global_sym *g;

	if (index >= obj->nglobals)
		return lbpf_err(ENOENT, "no global number %zu", index);
	g = &obj->globals[index];
	out->name = g->name;
	out->map = &obj->maps[g->map_idx];
	out->offset = g->offset;
	out->size = g->size;
	out->btf_type_id = g->btf_type_id;
	out->readonly = out->map->readonly;
	return 0;
}

int lbpf_object_global_by_name(lbpf_object *obj, const char *name, struct lbpf_global *out)
{
	for (size_t i = 0; i < obj->nglobals; i++)
		if (!strcmp(obj->globals[i].name, name))
			return lbpf_object_global_at(obj, i, out);
	return lbpf_err(ENOENT, "object '%s' has no global variable '%s'", obj->name, name);
}

void *lbpf_global_data(const struct lbpf_global *g)
{
	char *base = g->map->mmaped ? g->map->mmaped : g->map->image;

	return base ? base + g->offset : NULL;
}
