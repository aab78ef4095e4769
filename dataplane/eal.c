#include "dataplane/eal.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"

static int push(struct loom_eal_argv *out, char *arg)
{
	if (out->argc >= LOOM_EAL_ARGV_MAX) {
		LOG_ERR("eal", "more than %d EAL arguments", LOOM_EAL_ARGV_MAX);
		return -1;
	}
	out->argv[out->argc++] = arg;
	out->argv[out->argc] = NULL;
	return 0;
}

int loom_eal_argv_build(struct loom_eal_argv *out,
                        const struct loom_config *cfg, char **extra,
                        int n_extra)
{
	memset(out, 0, sizeof *out);
	/* argv points into out->buf: tokens are NUL-split in place. */
	size_t used = 0;
	int n = snprintf(out->buf, sizeof out->buf, "loomd");
	if (push(out, out->buf) != 0)
		return -1;
	used = (size_t)n + 1;

	n = snprintf(out->buf + used, sizeof out->buf - used, "%s",
	             cfg->eal_args);
	char *save = NULL;
	for (char *tok = strtok_r(out->buf + used, " \t\r\n", &save);
	     tok != NULL; tok = strtok_r(NULL, " \t\r\n", &save))
		if (push(out, tok) != 0)
			return -1;
	used += (size_t)n + 1;

	/* The safety rule applies to the arguments EAL will really see: the
	 * config's and the command line's together. */
	char joined[sizeof out->buf];
	size_t jl = (size_t)snprintf(joined, sizeof joined, "%s", cfg->eal_args);
	bool has_main = false;
	for (int i = 0; i < n_extra; i++) {
		if (push(out, extra[i]) != 0)
			return -1;
		if (jl < sizeof joined)
			jl += (size_t)snprintf(joined + jl, sizeof joined - jl,
			                       " %s", extra[i]);
	}
	for (int i = 1; i < out->argc; i++)
		if (strncmp(out->argv[i], "--main-lcore", 12) == 0)
			has_main = true;
	if (!loom_eal_args_safe(joined)) {
		LOG_ERR("eal", "refusing to start: EAL arguments contain neither "
		        "--no-pci nor an explicit allow-list (-a/--allow); "
		        "loomd never probes every PCI device");
		return -1;
	}
	if (!has_main) {
		char *arg = out->buf + used;
		n = snprintf(arg, sizeof out->buf - used, "--main-lcore=%u",
		             cfg->main_lcore);
		if (n < 0 || (size_t)n >= sizeof out->buf - used)
			return -1;
		if (push(out, arg) != 0)
			return -1;
	}
	return 0;
}
