/*
 * log.h - one-line log records on stderr: "LEVEL component: message".
 *
 * The level threshold is set once at start (before lcores launch) and only
 * read afterwards. Logging is for the slow path: never call it per packet.
 */
#ifndef LOOM_COMMON_LOG_H
#define LOOM_COMMON_LOG_H

enum loom_log_level {
	LOOM_LOG_ERROR = 0,
	LOOM_LOG_WARN = 1,
	LOOM_LOG_INFO = 2,
	LOOM_LOG_DEBUG = 3,
};

/* Parse "error|warn|info|debug"; -1 if unknown. */
int loom_log_level_parse(const char *s);
void loom_log_set_level(enum loom_log_level level);
enum loom_log_level loom_log_get_level(void);

void loom_log(enum loom_log_level level, const char *component,
              const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define LOG_ERR(comp, ...) loom_log(LOOM_LOG_ERROR, comp, __VA_ARGS__)
#define LOG_WARN(comp, ...) loom_log(LOOM_LOG_WARN, comp, __VA_ARGS__)
#define LOG_INFO(comp, ...) loom_log(LOOM_LOG_INFO, comp, __VA_ARGS__)
#define LOG_DEBUG(comp, ...) loom_log(LOOM_LOG_DEBUG, comp, __VA_ARGS__)

#endif
