/* Per-thread error reporting: every failing core call records what went wrong here. */
#ifndef LBPF_ERROR_H
#define LBPF_ERROR_H

/* Records a message (printf-style) for errno err and returns -err (err may be given negative). */
int lbpf_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends text to the current message (e.g. a verifier log tail). */
void lbpf_err_append(const char *text);
/* Prefixes the current message with context ("program 'x': "). Returns -errno unchanged. */
int lbpf_err_prefix(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lbpf_err_clear(void);
/* strerror that also names the kernel-internal codes bpf(2) can return (ENOTSUPP = 524). */
const char *lbpf_strerror(int err);

#endif
