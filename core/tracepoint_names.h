/* Tracepoint names near a mistyped one (tracepoint_names.c). */
#ifndef LBPF_TRACEPOINT_NAMES_H
#define LBPF_TRACEPOINT_NAMES_H

#include <stddef.h>

/* Writes up to three existing tracepoint names close to category:name (or to name alone, the
 * raw tracepoint form, when category is NULL), comma-separated, into out; "" when none is. */
void lbpf_tracepoint_suggest(const char *category, const char *name, char *out, size_t size);

#endif
