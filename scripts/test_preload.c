/* Preloaded into the Lua interpreter by `make check-asan` and `make check-valgrind`.
 *
 * dlclose() becomes a no-op, so that bpf.so stays mapped when the interpreter closes its state
 * and the leak report at exit can name our functions instead of "<unknown module>".
 *
 * In the interpreter itself, LD_PRELOAD is removed from the environment: the programs a spec
 * starts (clang, gcc, ip, ...) must not run with the sanitizer runtime preloaded, whose leak
 * checker would fail them for their own leaks. Other processes on the way (stdbuf, timeout) keep
 * it, so that it reaches the interpreter. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int dlclose(void *handle)
{
	(void)handle;
	return 0;
}

__attribute__((constructor)) static void drop_preload_for_children(void)
{
	const char *name = program_invocation_short_name;

	if (strncmp(name, "lua", 3) == 0)
		unsetenv("LD_PRELOAD");
}
