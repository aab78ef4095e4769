#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Process-wide and written only before worker lcores start: the one piece of
 * global state outside per-lcore contexts, read-only on the hot path. */
static enum loom_log_level log_threshold = LOOM_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int loom_log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

void loom_log_set_level(enum loom_log_level level) { log_threshold = level; }

enum loom_log_level loom_log_get_level(void) { return log_threshold; }

void loom_log(enum loom_log_level level, const char *component,
              const char *fmt, ...)
{
	if (level > log_threshold)
		return;
	char line[1024];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof line,
	                 "%02d:%02d:%02d.%03ld %-5s %s: ", tm.tm_hour, tm.tm_min,
	                 tm.tm_sec, ts.tv_nsec / 1000000L, level_names[level],
	                 component);
	if (n < 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	if ((size_t)n < sizeof line)
		vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	/* One fputs per record so lines from different lcores do not interleave
	 * mid-line. */
	size_t len = strlen(line);
	if (len + 1 < sizeof line) {
		line[len] = '\n';
		line[len + 1] = '\0';
	}
	fputs(line, stderr);
}
