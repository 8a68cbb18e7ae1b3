/* The running kernel's configuration, for .kconfig externs (CONFIG_*, LINUX_KERNEL_VERSION).
 *
 * Loader call sequence (only when the object has .kconfig externs):
 *   lbpf_kconfig_load(&kc)                      once per object load
 *   for each .kconfig extern:
 *       raw = lbpf_kconfig_get(kc, ext->name)  NULL when the kernel does not set it
 *       raw ? lbpf_kconfig_store(obj_btf, var_type_id, ext->name, raw, map_image + off, size)
 *           : weak ? leave the zeroes : lbpf_err(ENOENT, "... not set in the kernel config")
 *   lbpf_kconfig_free(kc)
 */
#ifndef LBPF_KCONFIG_H
#define LBPF_KCONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "luabpf.h"

struct lbpf_kconfig;

/* Reads /proc/config.gz, else /boot/config-$(uname -r); adds LINUX_KERNEL_VERSION (from
 * uname). Fails with a message when neither file can be read. */
int lbpf_kconfig_load(struct lbpf_kconfig **out);
/* Parses a config text (the .config format) instead: for tests and opts. */
int lbpf_kconfig_parse(const char *text, size_t len, struct lbpf_kconfig **out);
void lbpf_kconfig_free(struct lbpf_kconfig *kc);

/* Raw value as written in the config: "y", "m", "n", "1234", "0x10", "\"text\"".
 * NULL when absent ("# CONFIG_X is not set" counts as absent). */
const char *lbpf_kconfig_get(const struct lbpf_kconfig *kc, const char *name);

/* KERNEL_VERSION(a, b, c) of the running kernel (c capped at 255), 0 if uname fails. */
uint32_t lbpf_kernel_version(void);

/* Writes raw into an extern's storage according to its BTF type: bool (y/n), tristate enum
 * (n=0, y=1, m=2), char (the letter), integers of 1/2/4/8 bytes (decimal or 0x hex, range
 * checked), char arrays (a quoted string, truncated to fit with a terminating NUL).
 * name is only used in error messages. */
int lbpf_kconfig_store(const lbpf_btf *btf, uint32_t type_id, const char *name, const char *raw,
		       void *dst, size_t size);

#endif
