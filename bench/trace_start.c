/*
 * Start-to-attached timer of `make bench-trace`: runs a tracing tool (argv[1...]) with its stdout
 * on a pipe, and prints "MICROSECONDS PEAK_RSS_KB": the time from just before the fork until the
 * tool has written a line "fired" (its probe is attached and has fired once: the workload fires
 * every millisecond), and the tool's peak resident set size from wait4(2) once it has exited.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Reads lines from fd until one is "fired"; returns 0 when seen, -1 at end of file. */
static int wait_fired(FILE *in)
{
	char line[4096];
	while (fgets(line, sizeof(line), in))
		if (strcmp(line, "fired\n") == 0)
			return 0;
	return -1;
}

int main(int argc, char **argv)
{
	int fds[2];
	if (argc < 2 || pipe(fds) < 0) {
		fprintf(stderr, "usage: trace_start TOOL ARGS...\n");
		return 2;
	}
	double start = now_us();
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	close(fds[1]);
	FILE *in = fdopen(fds[0], "r");
	int seen = wait_fired(in);
	double elapsed = now_us() - start;
	while (fgetc(in) != EOF) /* the rest of its output, until it exits */
		;
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0 || seen < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "trace_start: %s did not fire or failed\n", argv[1]);
		return 1;
	}
	printf("%.0f %ld\n", elapsed, ru.ru_maxrss);
	return 0;
}
