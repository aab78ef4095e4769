/*
 * controld_config.h - loom-controld's configuration: one INI file
 * (libinih), section [controld]; docs/CONTROL.md "loom-controld" lists
 * every key. Unknown sections and keys, malformed values and values out of
 * range are errors; the first one is reported as "FILE:LINE: [controld]
 * KEY: what is wrong" (or "FILE: [controld] KEY: ..." for a missing key).
 */
#ifndef LOOM_CONTROL_CONTROLD_CONFIG_H
#define LOOM_CONTROL_CONTROLD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CD_PATH_MAX 256          /* paths, with their NUL */
#define CD_DEFAULT_PORT 9925
#define CD_DEFAULT_STATE_DIR "/var/lib/loom/controld"
#define CD_DEFAULT_LOOMD_SOCKET "/run/loom/loomd.sock"
#define CD_DEFAULT_ADMIN_SOCKET "/run/loom/controld.sock"
#define CD_DEFAULT_REKEY_S 120
#define CD_DEFAULT_PING_S 2
#define CD_DEFAULT_DEAD_S 6

struct cd_config {
	char name[64];                 /* name: the certificate's CN; "" = take it */
	uint32_t listen_ip_be;         /* listen = IP[:PORT], default 0.0.0.0 */
	uint16_t listen_port;          /*   port default 9925 */
	char ca[CD_PATH_MAX];          /* ca = the cluster CA certificate */
	char cert[CD_PATH_MAX];        /* cert = this node's certificate */
	char key[CD_PATH_MAX];         /* key = its private key */
	char crl[CD_PATH_MAX];         /* crl = the CA's CRL */
	char state_dir[CD_PATH_MAX];   /* state_dir = where `topology` is kept */
	char loomd_socket[CD_PATH_MAX];
	char admin_socket[CD_PATH_MAX];
	uint32_t rekey_interval_s;     /* 1..86400 */
	uint32_t ping_interval_s;      /* 1..3600 */
	uint32_t dead_after_s;         /* > ping_interval_s, <= 3600 */
	uint64_t cluster_id;           /* cluster_id = 1..2^64-1; 0: from loomd */
	int log_level;                 /* log_level = error|warn|info|debug */
};

/* Fills the defaults, reads path: 0, or -1 with one line in err. */
int cd_config_load(const char *path, struct cd_config *cfg, char *err,
                   size_t errlen);

#endif
