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

/* EPERM from bpf(2) or perf_event_open(2) nearly always means missing privilege: say which. */
static void add_privilege_hint(void)
{
	if (strstr(errmsg, "CAP_BPF"))
		return;
	lbpf_err_append(" (" LBPF_PRIVILEGE_HINT ")");
}

int lbpf_err(int err, const char *fmt, ...)
{
	va_list ap;

	err = abs(err);
	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	errcode = err;
	if (err == EPERM)
		add_privilege_hint();
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
