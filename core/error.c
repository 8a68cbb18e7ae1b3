/* Per-thread last-error message, so C callers and the Lua binding can say *why* a call failed. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "luabpf.h"

#define ERRMSG_CAP 8192

static _Thread_local char errmsg[ERRMSG_CAP];
static _Thread_local int errcode;

const char *lbpf_errmsg(void) { return errmsg; }
int lbpf_errno(void) { return errcode; }

void lbpf_err_clear(void)
{
	errmsg[0] = '\0';
	errcode = 0;
}

/* Errors whose cause is the process's situation rather than the object say which limit or
 * privilege it is, once: EPERM from bpf(2) or perf_event_open(2) nearly always means missing
 * privilege; EMFILE the open-file limit. */
static void add_hint(int err)
{
	const char *hint = err == EPERM ? LBPF_PRIVILEGE_HINT
			 : err == EMFILE ? "the process's limit on open files: ulimit -n" : NULL;

	if (hint && !strstr(errmsg, err == EPERM ? "CAP_BPF" : hint)) {
		lbpf_err_append(" (");
		lbpf_err_append(hint);
		lbpf_err_append(")");
	}
}

int lbpf_err(int err, const char *fmt, ...)
{
	va_list ap;

	err = abs(err);
	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	errcode = err;
	add_hint(err);
	return -err;
}

void lbpf_err_append(const char *text)
{
	size_t len = strlen(errmsg);

	snprintf(errmsg + len, sizeof(errmsg) - len, "%s", text);
}

int lbpf_err_prefix(int err, const char *fmt, ...)
{
	char prefix[512], rest[ERRMSG_CAP];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(rest, errmsg, sizeof(rest));
	/* Truncation is acceptable: the tail of a message matters less than its head. */
	size_t plen = strlen(prefix);
	if (plen >= sizeof(errmsg))
		plen = sizeof(errmsg) - 1;
	memcpy(errmsg, prefix, plen);
	memcpy(errmsg + plen, rest, sizeof(errmsg) - plen - 1);
	errmsg[sizeof(errmsg) - 1] = '\0';
	errcode = abs(err);
	return -abs(err);
}

const char *lbpf_strerror(int err)
{
	err = abs(err);
	/* Kernel-internal codes that leak out of bpf(2) and that libc does not name. */
	switch (err) {
	case 524:
		return "operation not supported for this kind (ENOTSUPP)";
	case 525:
		return "too small (ETOOSMALL)";
	default:
		return strerror(err);
	}
}
