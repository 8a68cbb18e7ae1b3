/*
 * Start-to-attached timer of `make bench-trace`: runs a tracing tool (argv[1...]) with its stdout
 * on a pipe, and prints "MICROSECONDS PEAK_RSS_KB CPU_MICROSECONDS": the time from just before the
 * fork until the tool has written a line "fired" (its probe is attached and has fired once), and,
 * from wait4(2) once it has exited, the tool's peak resident set size and the CPU time (user +
 * system) of its whole run, exit included: a figure the load of the machine moves far less.
 *
 * The event is ours: while it waits, this process calls getppid(2) every 100 microseconds, so a
 * probe is seen at most that long after it is attached. "%PID%" in the arguments stands for our
 * pid (the tool's filter: `/pid == %PID%/`).
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FIRE_EVERY_NS 100000L

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* argv with "%PID%" replaced by pid (a new array; the strings it replaces are leaked). */
static char **with_pid(char **argv, int argc, pid_t pid)
{
	char **out = calloc(argc + 1, sizeof(char *));
	char num[32];
	snprintf(num, sizeof(num), "%d", (int)pid);
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		size_t n = 0;
		for (const char *p = a; (p = strstr(p, "%PID%")); p += 5)
			n++;
		char *s = malloc(strlen(a) + n * strlen(num) + 1), *d = s;
		for (const char *p = a; *p;) {
			if (strncmp(p, "%PID%", 5) == 0) {
				d = stpcpy(d, num);
				p += 5;
			} else {
				*d++ = *p++;
			}
		}
		*d = '\0';
		out[i] = s;
	}
	return out;
}

/* Fires getppid(2) until a line "fired" arrives on fd: 0, or -1 at end of file. */
static int wait_fired(int fd)
{
	char buf[8192];
	size_t len = 0;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	const struct timespec every = { 0, FIRE_EVERY_NS };
	for (;;) {
		syscall(SYS_getppid);
		if (ppoll(&pfd, 1, &every, NULL) <= 0)
			continue;
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if (strncmp(buf, "fired\n", 6) == 0 || strstr(buf, "\nfired\n"))
			return 0;
		char *last = strrchr(buf, '\n'); /* keep only the unfinished line */
		if (last) {
			len = strlen(last + 1);
			memmove(buf, last + 1, len + 1);
		} else if (len == sizeof(buf) - 1) {
			len = 0;
		}
	}
}

int main(int argc, char **argv)
{
	int fds[2];
	if (argc < 2 || pipe(fds) < 0) {
		fprintf(stderr, "usage: trace_start TOOL ARGS...   (%%PID%% in ARGS: our pid)\n");
		return 2;
	}
	char **args = with_pid(argv + 1, argc - 1, getpid());
	double start = now_us();
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execvp(args[0], args);
		_exit(127);
	}
	close(fds[1]);
	int seen = wait_fired(fds[0]);
	double elapsed = now_us() - start;
	char sink[4096];
	while (read(fds[0], sink, sizeof(sink)) > 0) /* the rest of its output, until it exits */
		;
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0 || seen < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "trace_start: %s did not fire or failed\n", argv[1]);
		return 1;
	}
	long cpu_us = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L + ru.ru_utime.tv_usec +
		       ru.ru_stime.tv_usec;
	printf("%.0f %ld %ld\n", elapsed, ru.ru_maxrss, cpu_us);
	return 0;
}
