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

		if (de->d_name[0] == '.' || !strcmp(de->d_name, "vmlinux"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", SYS_BTF_DIR, de->d_name);
		if (lbpf_btf_open_split_file(path, vmlinux, &btf))
			continue;
		grown = realloc(modules, (nmodules + 1) * sizeof(*modules));
		if (!grown) {
			lbpf_btf_free(btf);
			break;
		}
		modules = grown;
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

__attribute__((destructor)) static void free_modules(void)
{
	for (size_t i = 0; i < nmodules; i++)
		lbpf_btf_free(modules[i]);
	free(modules);
	modules = NULL;
	nmodules = 0;
}
