/*
 * eal.h - turning [eal] args (plus extra command-line arguments) into an EAL
 * argv, and the safety rule that loomd never probes every PCI device.
 */
#ifndef LOOM_DATAPLANE_EAL_H
#define LOOM_DATAPLANE_EAL_H

#include "common/config.h"

#define LOOM_EAL_ARGV_MAX 128

struct loom_eal_argv {
	int argc;
	char *argv[LOOM_EAL_ARGV_MAX + 1];
	char buf[LOOM_EAL_ARGS_MAX + 512];
};

/* Build argv = {"loomd", tokens of cfg->eal_args..., extra[0..n_extra)} and
 * add --main-lcore from [lcores] main unless the args set it. Returns -1 and
 * logs when there are too many arguments or the result is not safe
 * (neither --no-pci nor an allow-list). */
int loom_eal_argv_build(struct loom_eal_argv *out,
                        const struct loom_config *cfg, char **extra,
                        int n_extra);

#endif
