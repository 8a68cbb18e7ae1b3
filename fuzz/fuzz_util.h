/* Shared by the fuzz targets: splitting an input into parts, and handing bytes to an API that
 * wants a path (a memfd, named through /proc/self/fd). */
#ifndef LBPF_FUZZ_UTIL_H
#define LBPF_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Takes a little-endian u32 off the front of the input; 0 when too short. */
static inline uint32_t fuzz_take_u32(const uint8_t **data, size_t *size)
{
	uint32_t v = 0;

	if (*size < sizeof(v))
		return 0;
	memcpy(&v, *data, sizeof(v));
	*data += sizeof(v);
	*size -= sizeof(v);
	return v;
}

/* Takes a length-prefixed part ([u32 len][len bytes]) off the front; false when malformed. */
static inline int fuzz_take_part(const uint8_t **data, size_t *size, const uint8_t **part,
				 size_t *part_size)
{
	uint32_t n = fuzz_take_u32(data, size);

	if (n > *size)
		return 0;
	*part = *data;
	*part_size = n;
	*data += n;
	*size -= n;
	return 1;
}

/* The bytes as a file: writes them to a memfd and puts its /proc/self/fd path in path.
 * Returns the fd (close it) or -1. */
static inline int fuzz_memfd(const uint8_t *data, size_t size, char *path, size_t path_size)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (size && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return -1;
	}
	snprintf(path, path_size, "/proc/self/fd/%d", fd);
	return fd;
}

#endif
