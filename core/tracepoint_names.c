/* Tracepoint names near a mistyped one (edit distance over tracefs' events/), for the "does not
 * exist" message of tracepoint and raw tracepoint attachment. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "tracepoint_names.h"

#define SUGGEST_MAX 3
#define NAME_MAX_LEN 128

struct nearest {
	char names[SUGGEST_MAX][2 * NAME_MAX_LEN + 2];
	size_t dist[SUGGEST_MAX];
	size_t count;
};

/* Levenshtein distance of two short strings (longer ones are cut at NAME_MAX_LEN). */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strnlen(a, NAME_MAX_LEN), lb = strnlen(b, NAME_MAX_LEN);
	size_t row[NAME_MAX_LEN + 1];

	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

/* Keeps the SUGGEST_MAX closest candidates, in order of distance. */
static void consider(struct nearest *n, const char *candidate, size_t dist)
{
	size_t at = n->count < SUGGEST_MAX ? n->count : SUGGEST_MAX;

	while (at > 0 && n->dist[at - 1] > dist)
		at--;
	if (at >= SUGGEST_MAX)
		return;
	for (size_t i = SUGGEST_MAX - 1; i > at; i--) {
		memcpy(n->names[i], n->names[i - 1], sizeof(n->names[i]));
		n->dist[i] = n->dist[i - 1];
	}
	snprintf(n->names[at], sizeof(n->names[at]), "%s", candidate);
	n->dist[at] = dist;
	if (n->count < SUGGEST_MAX)
		n->count++;
}

static void scan_category(struct nearest *n, const char *events, const char *category,
			  const char *wanted, int with_category)
{
	char path[512], full[2 * NAME_MAX_LEN + 2];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", events, category);
	d = opendir(path);
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || e->d_type != DT_DIR)
			continue;
		if (with_category)
			snprintf(full, sizeof(full), "%.*s:%.*s", NAME_MAX_LEN, category, NAME_MAX_LEN,
				 e->d_name);
		else
			snprintf(full, sizeof(full), "%.*s", NAME_MAX_LEN, e->d_name);
		consider(n, full, edit_distance(wanted, full));
	}
	closedir(d);
}

void lbpf_tracepoint_suggest(const char *category, const char *name, char *out, size_t size)
{
	static const char *const roots[] = { "/sys/kernel/tracing/events",
					     "/sys/kernel/debug/tracing/events" };
	char wanted[2 * NAME_MAX_LEN + 2];
	struct nearest n = { .count = 0 };
	struct dirent *e;
	DIR *d = NULL;
	size_t i, len = 0, limit;

	out[0] = '\0';
	for (i = 0; i < 2 && !d; i++)
		d = opendir(roots[i]);
	if (!d)
		return;
	if (category)
		snprintf(wanted, sizeof(wanted), "%.*s:%.*s", NAME_MAX_LEN, category, NAME_MAX_LEN, name);
	else
		snprintf(wanted, sizeof(wanted), "%.*s", NAME_MAX_LEN, name);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && e->d_type == DT_DIR)
			scan_category(&n, roots[i - 1], e->d_name, wanted, category != NULL);
	closedir(d);
	/* Only names close enough to be the one meant: a third of the length, at least 2 edits. */
	limit = strlen(wanted) / 3 > 2 ? strlen(wanted) / 3 : 2;
	for (i = 0; i < n.count && n.dist[i] <= limit && len + 4 < size; i++) {
		int w = snprintf(out + len, size - len, "%s%s", i ? ", " : "", n.names[i]);

		if (w < 0 || (size_t)w >= size - len)
			break;
		len += (size_t)w;
	}
}
