/*
 * controld_config.c - loom-controld's [controld] section; see
 * controld_config.h.
 */
#include "control/controld_config.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "common/log.h"
#include "control/pki.h"
#include "control/topology.h"

enum {
	K_NAME, K_LISTEN, K_CA, K_CERT, K_KEY, K_CRL, K_STATE_DIR,
	K_LOOMD_SOCKET, K_ADMIN_SOCKET, K_REKEY, K_PING, K_DEAD, K_CLUSTER,
	K_LOG_LEVEL, K_COUNT
};

static const char *const key_names[K_COUNT] = {
	"name", "listen", "ca", "cert", "key", "crl", "state_dir",
	"loomd_socket", "admin_socket", "rekey_interval_s", "ping_interval_s",
	"dead_after_s", "cluster_id", "log_level",
};

struct parse {
	const char *path;
	FILE *f;
	int lineno;
	int key_line[K_COUNT];
	struct cd_config *cfg;
	char *err;
	size_t errlen;
	bool failed;
};

static void failf(struct parse *p, int line, const char *key,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void failf(struct parse *p, int line, const char *key,
                  const char *fmt, ...)
{
	if (p->failed)
		return;
	p->failed = true;
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(p->err, p->errlen, "%s:%d: [controld] %s: %s", p->path,
		         line, key, what);
	else
		snprintf(p->err, p->errlen, "%s: [controld] %s: %s", p->path,
		         key, what);
}

static char *line_reader(char *str, int num, void *stream)
{
	struct parse *p = stream;
	char *r = fgets(str, num, p->f);
	if (r != NULL)
		p->lineno++;
	return r;
}

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end = NULL;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_u64_any(const char *s, uint64_t *out)
{
	char *end = NULL;
	int base = 10;
	if (strncmp(s, "0x", 2) == 0 || strncmp(s, "0X", 2) == 0) {
		base = 16;
		s += 2;
	}
	if (!((*s >= '0' && *s <= '9') ||
	      (base == 16 && ((*s >= 'a' && *s <= 'f') ||
	                      (*s >= 'A' && *s <= 'F')))))
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, base);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static void set_path(struct parse *p, const char *key, const char *v,
                     char *dst, size_t cap, bool socket)
{
	size_t max = cap - 1;
	if (socket && max > sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
		max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
	if (*v == '\0')
		failf(p, p->lineno, key, "empty path");
	else if (strlen(v) > max)
		failf(p, p->lineno, key, "longer than %zu characters", max);
	else
		snprintf(dst, cap, "%s", v);
}

static int handler(void *user, const char *section, const char *name,
                   const char *value)
{
	struct parse *p = user;
	struct cd_config *c = p->cfg;
	if (p->failed)
		return 1;
	if (strcmp(section, "controld") != 0) {
		failf(p, p->lineno, name, "unknown section [%s] (loom-controld "
		      "reads [controld] only)", section);
		return 1;
	}
	int k;
	for (k = 0; k < K_COUNT; k++)
		if (strcmp(name, key_names[k]) == 0)
			break;
	if (k == K_COUNT) {
		failf(p, p->lineno, name, "unknown key");
		return 1;
	}
	if (p->key_line[k] != 0) {
		failf(p, p->lineno, name, "given twice (first on line %d)",
		      p->key_line[k]);
		return 1;
	}
	p->key_line[k] = p->lineno;
	uint16_t port = 0;
	switch (k) {
	case K_NAME:
		if (!pki_valid_node_name(value))
			failf(p, p->lineno, name, "'%s' is not a node name "
			      "([A-Za-z0-9_.-]{1,63}, not '.', '..' or 'ca')",
			      value);
		else
			snprintf(c->name, sizeof c->name, "%s", value);
		break;
	case K_LISTEN:
		if (topo_parse_addr(value, &c->listen_ip_be, &port) != 0)
			failf(p, p->lineno, name, "'%s' is not IP or IP:PORT "
			      "(IPv4, port 1..65535)", value);
		else
			c->listen_port = port;
		break;
	case K_CA:
		set_path(p, name, value, c->ca, sizeof c->ca, false);
		break;
	case K_CERT:
		set_path(p, name, value, c->cert, sizeof c->cert, false);
		break;
	case K_KEY:
		set_path(p, name, value, c->key, sizeof c->key, false);
		break;
	case K_CRL:
		set_path(p, name, value, c->crl, sizeof c->crl, false);
		break;
	case K_STATE_DIR:
		set_path(p, name, value, c->state_dir, sizeof c->state_dir,
		         false);
		break;
	case K_LOOMD_SOCKET:
		set_path(p, name, value, c->loomd_socket,
		         sizeof c->loomd_socket, true);
		break;
	case K_ADMIN_SOCKET:
		set_path(p, name, value, c->admin_socket,
		         sizeof c->admin_socket, true);
		break;
	case K_REKEY:
		if (parse_u32(value, 1, 86400, &c->rekey_interval_s) != 0)
			failf(p, p->lineno, name, "'%s': an integer 1..86400 "
			      "(seconds) is needed", value);
		break;
	case K_PING:
		if (parse_u32(value, 1, 3600, &c->ping_interval_s) != 0)
			failf(p, p->lineno, name, "'%s': an integer 1..3600 "
			      "(seconds) is needed", value);
		break;
	case K_DEAD:
		if (parse_u32(value, 2, 3600, &c->dead_after_s) != 0)
			failf(p, p->lineno, name, "'%s': an integer 2..3600 "
			      "(seconds) is needed", value);
		break;
	case K_CLUSTER:
		if (parse_u64_any(value, &c->cluster_id) != 0 ||
		    c->cluster_id == 0)
			failf(p, p->lineno, name, "'%s': a nonzero 64-bit "
			      "integer (decimal or 0x hex) is needed", value);
		break;
	case K_LOG_LEVEL:
		c->log_level = loom_log_level_parse(value);
		if (c->log_level < 0)
			failf(p, p->lineno, name, "'%s': one of error, warn, "
			      "info, debug", value);
		break;
	default:
		break;
	}
	return 1;
}

int cd_config_load(const char *path, struct cd_config *cfg, char *err,
                   size_t errlen)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->listen_port = CD_DEFAULT_PORT;
	snprintf(cfg->state_dir, sizeof cfg->state_dir, "%s",
	         CD_DEFAULT_STATE_DIR);
	snprintf(cfg->loomd_socket, sizeof cfg->loomd_socket, "%s",
	         CD_DEFAULT_LOOMD_SOCKET);
	snprintf(cfg->admin_socket, sizeof cfg->admin_socket, "%s",
	         CD_DEFAULT_ADMIN_SOCKET);
	cfg->rekey_interval_s = CD_DEFAULT_REKEY_S;
	cfg->ping_interval_s = CD_DEFAULT_PING_S;
	cfg->dead_after_s = CD_DEFAULT_DEAD_S;
	cfg->log_level = LOOM_LOG_INFO;

	struct parse p = {.path = path, .cfg = cfg, .err = err,
	                  .errlen = errlen};
	p.f = fopen(path, "r");
	if (p.f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	int r = ini_parse_stream(line_reader, &p, handler, &p);
	fclose(p.f);
	if (p.failed)
		return -1;
	if (r != 0) {
		snprintf(err, errlen, "%s:%d: not INI syntax (a [section] "
		         "or KEY = VALUE line is expected)", path,
		         r > 0 ? r : p.lineno);
		return -1;
	}
	static const int required[] = {K_CA, K_CERT, K_KEY, K_CRL};
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
		if (p.key_line[required[i]] == 0) {
			failf(&p, 0, key_names[required[i]], "missing (the "
			      "node's bundle from `loomctl cert issue`: ca, "
			      "cert, key and crl are all needed)");
			return -1;
		}
	if (cfg->dead_after_s <= cfg->ping_interval_s) {
		failf(&p, p.key_line[K_DEAD], "dead_after_s", "%u must exceed "
		      "ping_interval_s (%u)", cfg->dead_after_s,
		      cfg->ping_interval_s);
		return -1;
	}
	if (strcmp(cfg->loomd_socket, cfg->admin_socket) == 0) {
		failf(&p, p.key_line[K_ADMIN_SOCKET], "admin_socket",
		      "the same path as loomd_socket");
		return -1;
	}
	return 0;
}
