/* Kernel module BTF (/sys/kernel/btf/<module>, split over vmlinux): CO-RE candidates and typed
 * ksyms can live in modules. Parsed once per process, like the shared vmlinux BTF. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "btf_internal.h"
#include "error.h"

#define SYS_BTF_DIR "/sys/kernel/btf"

static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;
static lbpf_btf **modules;
static char **module_names;    /* parallel to modules: /sys/kernel/btf/<name> */
static size_t nmodules;
static bool modules_loaded;

/* A module whose BTF cannot be read is skipped: relocations then fall back to vmlinux alone. */
static void load_modules(const lbpf_btf *vmlinux)
{
	DIR *dir = opendir(SYS_BTF_DIR);
	struct dirent *de;

	while (dir && (de = readdir(dir))) {
		char path[512];
		lbpf_btf *btf, **grown;
		char **grown_names, *name;

		if (de->d_name[0] == '.' || !strcmp(de->d_name, "vmlinux"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", SYS_BTF_DIR, de->d_name);
		if (lbpf_btf_open_split_file(path, vmlinux, &btf))
			continue;
		grown = realloc(modules, (nmodules + 1) * sizeof(*modules));
		if (grown)
			modules = grown;
		grown_names = realloc(module_names, (nmodules + 1) * sizeof(*module_names));
		if (grown_names)
			module_names = grown_names;
		name = strdup(de->d_name);
		if (!grown || !grown_names || !name) {
			free(name);
			lbpf_btf_free(btf);
			break;
		}
		module_names[nmodules] = name;
		modules[nmodules++] = btf;
	}
	if (dir)
		closedir(dir);
	lbpf_err_clear();
}

int lbpf_btf_kernel_modules(const lbpf_btf *const **out, size_t *count)
{
	const lbpf_btf *vmlinux;
	int ret = lbpf_btf_kernel_shared(&vmlinux);

	if (ret)
		return ret;
	pthread_mutex_lock(&modules_lock);
	if (!modules_loaded) {
		load_modules(vmlinux);
		modules_loaded = true;
	}
	pthread_mutex_unlock(&modules_lock);
	*out = (const lbpf_btf *const *)modules;
	*count = nmodules;
	return 0;
}

const char *lbpf_btf_kernel_module_name(size_t index)
{
	return index < nmodules ? module_names[index] : NULL;
}

__attribute__((destructor)) static void free_modules(void)
{
	for (size_t i = 0; i < nmodules; i++) {
		lbpf_btf_free(modules[i]);
		free(module_names[i]);
	}
	free(modules);
	free(module_names);
	module_names = NULL;
	modules = NULL;
	nmodules = 0;
}
