/* Links: the handle that keeps an attachment alive, and undoes it when closed. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "link.h"
#include "sys.h"

lbpf_link *lbpf_link_new(int fd, const char *desc_fmt, ...)
{
	lbpf_link *link = calloc(1, sizeof(*link));
	va_list ap;

	if (!link) {
		lbpf_err(ENOMEM, "out of memory allocating a link");
		return NULL;
	}
	va_start(ap, desc_fmt);
	if (vasprintf(&link->desc, desc_fmt, ap) < 0)
		link->desc = NULL;
	va_end(ap);
	link->fd = fd;
	link->aux_fd = -1;
	link->attached = true;
	return link;
}

int lbpf_link_fd(const lbpf_link *link) { return link->attached ? link->fd : -EBADF; }
const char *lbpf_link_description(const lbpf_link *link) { return link->desc ? link->desc : "link"; }
bool lbpf_link_is_attached(const lbpf_link *link) { return link->attached; }

int lbpf_link_detach(lbpf_link *link)
{
	int ret = 0;

	if (!link->attached)
		return 0;
	if (link->detach)
		ret = link->detach(link);
	if (link->fd >= 0)
		close(link->fd);
	if (link->aux_fd >= 0)
		close(link->aux_fd);
	link->fd = link->aux_fd = -1;
	link->attached = false;
	return ret;
}

int lbpf_link_pin(lbpf_link *link, const char *path)
{
	union bpf_attr attr;
	int ret;

	if (!link->attached)
		return lbpf_err(EBADF, "cannot pin a detached link");
	memset(&attr, 0, sizeof(attr));
	attr.pathname = lbpf_ptr(path);
	attr.bpf_fd = link->fd;
	ret = lbpf_sys_bpf(BPF_OBJ_PIN, &attr, sizeof(attr));
	if (ret < 0)
		return lbpf_err(ret, "pinning link '%s' at %s: %s", lbpf_link_description(link), path,
				lbpf_strerror(ret));
	link->pinned = true;
	return 0;
}

void lbpf_link_free(lbpf_link *link)
{
	if (!link)
		return;
	if (link->pinned) {
		/* A pinned link lives on in bpffs: drop our fd without undoing the attachment. */
		if (link->fd >= 0)
			close(link->fd);
		if (link->aux_fd >= 0)
			close(link->aux_fd);
	} else {
		lbpf_link_detach(link);
	}
	free(link->priv);
	free(link->desc);
	free(link);
}
