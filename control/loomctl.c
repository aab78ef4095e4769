/*
 * loomctl: the operator's CLI for loom-controld (ca, cert, node, status,
 * stats) and for local chores (passwd). The cluster PKI (`ca init`,
 * `cert issue|revoke|list|verify`, control/pki.h) works on files;
 * `node add|remove`, `status` and `stats` are requests to the local
 * loom-controld over its admin socket (common/ctl_msg.h framing;
 * docs/CONTROL.md "loom-controld").
 *
 * Exit codes: 0 done, 1 failed (a file, the crypto, or a refusal such as
 * an existing CA or a duplicate node), 2 usage (unknown option, bad
 * argument or name), 3 loom-controld cannot be reached (node, status,
 * stats); `cert verify` adds 10..15, one per reason.
 */
#include "dataplane/http/auth.h"
#include "common/base64.h"
#include "common/names.h"
#include "common/ctl_msg.h"
#include "control/pki.h"
#include "control/topology.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define LOOMCTL_VERSION "0.1.0"

/* node, status, stats: loom-controld's admin socket ([controld]
 * admin_socket) and how long an answer may take. */
#define CTLD_DEFAULT_SOCKET "/run/loom/controld.sock"
#define CTLD_TIMEOUT_S 10

/* `passwd`: the defaults and bounds of a [users] verifier (docs/CONFIG.md;
 * the config parser enforces the same bounds). */
#define PASSWD_ITERATIONS 200000u
#define PASSWD_ITER_MIN 1000u
#define PASSWD_ITER_MAX 10000000u
#define PASSWD_SALT_LEN 16
/* The server refuses Basic tokens over AUTH_TOKEN_MAX characters, i.e.
 * "user:password" over 192 bytes. */
#define PASSWD_CRED_MAX BASE64_DECODED_MAX(AUTH_TOKEN_MAX)

struct command {
	const char *name;
	const char *args;
	const char *help;
};

static const struct command commands[] = {
	{"ca init", "[--cluster NAME] [--days N]",
	 "create the cluster CA (ECDSA P-256)"},
	{"cert issue", "NODE [--days N] [--out DIR]",
	 "issue a node certificate and key"},
	{"cert revoke", "SERIAL", "revoke a certificate, rewrite the CRL"},
	{"cert list", "[--json]", "the issued certificates and their status"},
	{"cert verify", "CERT [--name NODE]",
	 "check a certificate as loom-controld does"},
	{"node add", "--id N --name NAME --mgmt --dp",
	 "add a node to the cluster"},
	{"node remove", "ID", "remove a node and withdraw its keys"},
	{"status", "[--json]", "links, key epochs, per-peer lag"},
	{"stats", "[--json]", "loom-controld's counters, loomd's summary"},
	{"passwd", "[--iterations N] USER",
	 "read USER's password on stdin, print its [users] line"},
};

static void usage(FILE *f)
{
	fputs("usage: loomctl COMMAND [ARGS]\n\ncommands:\n", f);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-12s %-30s %s\n", commands[i].name,
		        commands[i].args, commands[i].help);
	fputs("\n  -h, --help     this text\n  -V, --version  print the version\n",
	      f);
	fputs("\nca and cert commands take --dir DIR, the CA directory (default "
	      PKI_DEFAULT_DIR "),\nand --help (`loomctl cert issue --help`). "
	      "Exit codes: 0 done, 1 failed,\n2 usage; cert verify 10..15 "
	      "(see its --help).\n", f);
	fputs("\nnode, status and stats ask the local loom-controld over its "
	      "admin socket\n(--socket PATH, default " CTLD_DEFAULT_SOCKET
	      "); they also exit 3 when it\ncannot be reached "
	      "(`loomctl node add --help`).\n", f);
	fputs("\npasswd: the password is the first line of stdin (its final LF,\n"
	      "or CR LF, removed; empty, or holding a control character, is\n"
	      "refused; prompted for without echo on a terminal). Prints\n"
	      "  USER = pbkdf2-sha256$N$SALT_B64$HASH_B64\n"
	      "to paste into the [users] section of loomd's config (with\n"
	      "[http] auth = basic): PBKDF2-HMAC-SHA256 with a random 16-byte\n"
	      "salt and N iterations (--iterations, 1000..10000000, default\n"
	      "200000). Every new credential costs an io lcore one such hash,\n"
	      "so N trades guessing resistance against that pause.\n"
	      "  printf '%s\\n' \"$PASSWORD\" | loomctl passwd admin\n", f);
}


static void wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;
	while (n--)
		*v++ = 0;
}

/* The first line of stdin into buf; its LF (or CR LF) removed. Returns the
 * length, or -1 (message printed). Echo is off while a terminal types. */
static long read_password(const char *user, char *buf, size_t cap)
{
	struct termios old;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	if (tty) {
		struct termios quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		fprintf(stderr, "password for %s: ", user);
		fflush(stderr);
	}
	size_t n = 0;
	bool too_long = false, ctl = false;
	int c;
	while ((c = getchar()) != EOF) {
		if (c == '\n')
			break;
		if (n + 1 < cap)
			buf[n++] = (char)c;
		else
			too_long = true;
	}
	bool read_error = ferror(stdin) != 0;
	if (tty)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	if (n > 0 && buf[n - 1] == '\r')
		n--; /* a CR LF line ending */
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			ctl = true;
	if (read_error) {
		fprintf(stderr, "loomctl passwd: cannot read stdin: %s\n",
		        strerror(errno));
		return -1;
	}
	if (too_long) {
		fprintf(stderr, "loomctl passwd: password too long (the server "
		        "takes at most %zu bytes of user:password)\n",
		        (size_t)PASSWD_CRED_MAX);
		return -1;
	}
	if (ctl) {
		fputs("loomctl passwd: the password holds a control character "
		      "(RFC 7617 forbids them in Basic credentials; the server "
		      "refuses them)\n", stderr);
		return -1;
	}
	if (n == 0) {
		fputs("loomctl passwd: empty password refused (stdin's first "
		      "line is the password)\n", stderr);
		return -1;
	}
	return (long)n;
}

static int parse_iterations(const char *s, uint32_t *out)
{
	char *end = NULL;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < PASSWD_ITER_MIN ||
	    v > PASSWD_ITER_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* loomctl passwd [--iterations N] USER */
static int cmd_passwd(int argc, char **argv)
{
	uint32_t iterations = PASSWD_ITERATIONS;
	const char *user = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(a, "--iterations") == 0) {
			if (i + 1 >= argc) {
				fputs("loomctl passwd: --iterations needs a "
				      "value\n", stderr);
				return 2;
			}
			val = argv[++i];
		} else if (strncmp(a, "--iterations=", 13) == 0) {
			val = a + 13;
		} else if (a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "loomctl passwd: unknown option '%s'\n",
			        a);
			return 2;
		} else if (user != NULL) {
			fprintf(stderr, "loomctl passwd: one USER only (got "
			        "'%s' and '%s')\n", user, a);
			return 2;
		} else {
			user = a;
		}
		if (val != NULL && parse_iterations(val, &iterations) != 0) {
			fprintf(stderr, "loomctl passwd: --iterations must be "
			        "an integer in %u..%u, got '%s'\n",
			        PASSWD_ITER_MIN, PASSWD_ITER_MAX, val);
			return 2;
		}
	}
	if (user == NULL) {
		fputs("usage: loomctl passwd [--iterations N] USER < "
		      "password-line\n", stderr);
		return 2;
	}
	if (!loom_name_valid(user, 63)) {
		fprintf(stderr, "loomctl passwd: '%s' is not a user name "
		        "([A-Za-z0-9_.-]{1,63})\n", user);
		return 2;
	}

	char pw[PASSWD_CRED_MAX + 2];
	size_t room = PASSWD_CRED_MAX - strlen(user) - 1; /* "user:" */
	long plen = read_password(user, pw, sizeof pw);
	if (plen >= 0 && (size_t)plen > room) {
		fprintf(stderr, "loomctl passwd: password too long (the server "
		        "takes at most %zu bytes of user:password)\n",
		        (size_t)PASSWD_CRED_MAX);
		plen = -1;
	}
	if (plen < 0) {
		wipe(pw, sizeof pw);
		return 1;
	}

	uint8_t salt[PASSWD_SALT_LEN], hash[AUTH_HASH_LEN];
	if (getrandom(salt, sizeof salt, 0) != (ssize_t)sizeof salt) {
		fprintf(stderr, "loomctl passwd: getrandom: %s\n",
		        strerror(errno));
		wipe(pw, sizeof pw);
		return 1;
	}
	int rc = auth_hash_password(pw, (size_t)plen, salt, sizeof salt,
	                            iterations, hash);
	wipe(pw, sizeof pw);
	if (rc != 0) {
		fputs("loomctl passwd: PBKDF2 failed (wolfCrypt)\n", stderr);
		return 1;
	}
	char salt_b64[BASE64_ENCODED_LEN(PASSWD_SALT_LEN) + 1];
	char hash_b64[BASE64_ENCODED_LEN(AUTH_HASH_LEN) + 1];
	base64_encode(salt, sizeof salt, salt_b64);
	base64_encode(hash, sizeof hash, hash_b64);
	wipe(hash, sizeof hash);
	printf("%s = pbkdf2-sha256$%u$%s$%s\n", user, iterations, salt_b64,
	       hash_b64);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- ca and cert: the cluster PKI (control/pki.h) ------------------ */

#define DIR_HELP                                                             \
	"  --dir DIR     the CA directory (default " PKI_DEFAULT_DIR ")\n"
#define EXIT_HELP                                                            \
	"\nexit: 0 done, 1 failed (message on stderr), 2 usage\n"

static const char help_ca_init[] =
	"usage: loomctl ca init [--dir DIR] [--cluster NAME] [--days N] "
	"[--force]\n"
	"\n"
	"Creates the cluster CA in DIR (made, mode 0700, if missing): an ECDSA\n"
	"P-256 key (ca.key.pem, mode 0600), the self-signed CA certificate\n"
	"(ca.crt.pem, CN \"loom cluster CA NAME\"), the serial counter, the\n"
	"register issued.txt and an empty CRL (crl.pem). Refuses a DIR that\n"
	"already holds a CA.\n"
	"\n"
	DIR_HELP
	"  --cluster NAME  the cluster's name in the CN, [A-Za-z0-9_.-]{1,47}\n"
	"                (default: a random 8-hex-digit id)\n"
	"  --days N      validity in days, 1..36500 (default 3650); notBefore\n"
	"                is an hour back, for peers whose clocks lag\n"
	"  --force       replace an existing CA: the counter, register and\n"
	"                CRL start over, and every certificate the old CA\n"
	"                issued stops verifying\n"
	EXIT_HELP;

static const char help_cert_issue[] =
	"usage: loomctl cert issue NODE [--dir DIR] [--days N] [--out DIR] "
	"[--force]\n"
	"\n"
	"Issues NODE a certificate signed by the CA: a new ECDSA P-256 key,\n"
	"CN and DNS subjectAltName = NODE, keyUsage digitalSignature and\n"
	"keyAgreement, extKeyUsage serverAuth and clientAuth, the next serial.\n"
	"Writes NODE.key.pem (mode 0600), NODE.crt.pem and copies of\n"
	"ca.crt.pem and crl.pem into the output directory: what the node's\n"
	"loom-controld needs. Refuses a NODE holding a certificate that is\n"
	"neither revoked nor expired.\n"
	"\n"
	"  NODE          the node's name as in the topology: [A-Za-z0-9_.-]\n"
	"                {1,63}, not '.', '..' or 'ca' (else exit 2)\n"
	DIR_HELP
	"  --days N      validity in days, 1..36500 (default 365), within the\n"
	"                CA's; notBefore is an hour back\n"
	"  --out DIR     the output directory (default DIR/nodes/NODE)\n"
	"  --force       issue even so (the older certificate stays valid\n"
	"                until revoked)\n"
	EXIT_HELP;

static const char help_cert_revoke[] =
	"usage: loomctl cert revoke SERIAL [--dir DIR]\n"
	"\n"
	"Marks SERIAL (decimal, as `cert list` shows it) revoked in the\n"
	"register and rewrites DIR/crl.pem, signed by the CA. Copy crl.pem to\n"
	"every node: a node refuses the certificate once its loom-controld\n"
	"has the new list. Revoking a revoked serial changes nothing and\n"
	"exits 0.\n"
	"\n"
	"  SERIAL        a serial of the register (else exit 1)\n"
	DIR_HELP
	EXIT_HELP;

static const char help_cert_list[] =
	"usage: loomctl cert list [--dir DIR] [--json]\n"
	"\n"
	"The certificates the CA issued, from its register: serial, node,\n"
	"validity and status: valid, revoked, expired or not-yet-valid.\n"
	"\n"
	DIR_HELP
	"  --json        one JSON object: {\"ca\": CN, \"dir\": DIR, \"certs\":\n"
	"                [{\"serial\", \"node\", \"not_before\", \"not_after\",\n"
	"                \"status\", \"revoked_at\" (null unless revoked)}]}\n"
	EXIT_HELP;

static const char help_cert_verify[] =
	"usage: loomctl cert verify CERT [--name NODE] [--dir DIR | --ca FILE "
	"--crl FILE]\n"
	"\n"
	"Checks CERT (PEM or DER) the way loom-controld checks a peer at the\n"
	"handshake: signed by the cluster CA, inside its validity and the\n"
	"CA's now, not on the CRL and, with --name, CN and a DNS\n"
	"subjectAltName equal to NODE. Prints the reason of a failure.\n"
	"\n"
	"  --name NODE   the name the certificate must carry\n"
	DIR_HELP
	"  --ca FILE     the CA certificate instead of DIR (a node's copy);\n"
	"  --crl FILE    and its CRL (both needed)\n"
	"\n"
	"exit: 0 valid, 1 failed to check (a file missing or broken), 2 usage,\n"
	"  10 bad-chain (not signed by this CA, or a CA certificate)\n"
	"  11 expired (the certificate or the CA)\n"
	"  12 not-yet-valid (the certificate or the CA)\n"
	"  13 revoked (on the CRL)\n"
	"  14 wrong-name (CN or DNS name is not NODE)\n"
	"  15 malformed (not an X.509 certificate)\n";

static const char help_ca[] =
	"usage: loomctl ca init [--dir DIR] [--cluster NAME] [--days N] "
	"[--force]\n"
	"(`loomctl ca init --help` for details)\n";

static const char help_cert[] =
	"usage: loomctl cert COMMAND [ARGS] [--dir DIR]\n"
	"\n"
	"  cert issue NODE [--days N] [--out DIR] [--force]\n"
	"  cert revoke SERIAL\n"
	"  cert list [--json]\n"
	"  cert verify CERT [--name NODE] [--ca FILE --crl FILE]\n"
	"\n"
	"(`loomctl cert COMMAND --help` for details)\n";

static bool is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (is_help(argv[i]))
			return true;
	return false;
}

/* A usage error: the message, the synopsis (the help's first line), 2. */
static int usage_error(const char *cmd, const char *help, const char *fmt,
                       const char *arg)
{
	fprintf(stderr, "loomctl %s: ", cmd);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%.*s\n(loomctl %s --help for more)\n",
	        (int)strcspn(help, "\n"), help, cmd);
	return 2;
}

/* argv[*i] is `name VALUE` or `name=VALUE`: 1 and *val; 0 if argv[*i] is
 * another argument; -1 if the value is missing. */
static int opt_val(int argc, char **argv, int *i, const char *name,
                   const char **val)
{
	const char *a = argv[*i];
	size_t n = strlen(name);
	if (strncmp(a, name, n) != 0)
		return 0;
	if (a[n] == '=') {
		*val = a + n + 1;
		return 1;
	}
	if (a[n] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*val = argv[++*i];
	return 1;
}

static int parse_u64(const char *s, uint64_t min, uint64_t max,
                     uint64_t *out)
{
	char *end = NULL;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* Options every ca/cert command parses the same way. */
struct pki_args {
	const char *cmd, *help;
	const char *dir;
	const char *pos;        /* the one positional argument */
	const char *pos_name;   /* its name in messages; NULL: none taken */
	uint64_t days;
	bool days_set, force, json;
	const char *cluster, *out, *name, *ca, *crl;
};

/* Returns 0, or the exit code (2) after the message. `allowed` lists the
 * options this command takes, as "--days --force ...". */
static int pki_parse(struct pki_args *p, int argc, char **argv,
                     const char *allowed)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		static const char *const valued[] = {
			"--dir", "--cluster", "--days", "--out", "--name",
			"--ca", "--crl",
		};
		int m = 0;
		size_t k;
		for (k = 0; k < sizeof valued / sizeof valued[0]; k++) {
			if (strstr(allowed, valued[k]) == NULL &&
			    strcmp(valued[k], "--dir") != 0)
				continue;
			m = opt_val(argc, argv, &i, valued[k], &v);
			if (m != 0)
				break;
		}
		if (m < 0)
			return usage_error(p->cmd, p->help, "%s needs a value",
			                   valued[k]);
		if (m > 0) {
			const char *o = valued[k];
			if (strcmp(o, "--dir") == 0) {
				p->dir = v;
			} else if (strcmp(o, "--cluster") == 0) {
				p->cluster = v;
			} else if (strcmp(o, "--days") == 0) {
				if (parse_u64(v, 1, PKI_DAYS_MAX, &p->days) != 0)
					return usage_error(p->cmd, p->help,
					                   "--days must be an "
					                   "integer in 1..36500, "
					                   "got '%s'", v);
				p->days_set = true;
			} else if (strcmp(o, "--out") == 0) {
				p->out = v;
			} else if (strcmp(o, "--name") == 0) {
				p->name = v;
			} else if (strcmp(o, "--ca") == 0) {
				p->ca = v;
			} else {
				p->crl = v;
			}
			if (*v == '\0')
				return usage_error(p->cmd, p->help,
				                   "%s needs a non-empty value",
				                   o);
			continue;
		}
		if (strcmp(a, "--force") == 0 && strstr(allowed, "--force")) {
			p->force = true;
		} else if (strcmp(a, "--json") == 0 &&
		           strstr(allowed, "--json")) {
			p->json = true;
		} else if (a[0] == '-' && a[1] != '\0') {
			return usage_error(p->cmd, p->help,
			                   "unknown option '%s'", a);
		} else if (p->pos_name == NULL) {
			return usage_error(p->cmd, p->help,
			                   "unexpected argument '%s'", a);
		} else if (p->pos != NULL) {
			return usage_error(p->cmd, p->help,
			                   "one argument only, got another: "
			                   "'%s'", a);
		} else {
			p->pos = a;
		}
	}
	if (p->pos_name != NULL && p->pos == NULL)
		return usage_error(p->cmd, p->help, "%s missing", p->pos_name);
	return 0;
}

static void print_files(const char *dir, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("  %s/%s\n", dir, names[i]);
}

/* loomctl ca init [--dir DIR] [--cluster NAME] [--days N] [--force] */
static int cmd_ca_init(int argc, char **argv)
{
	struct pki_args p = {.cmd = "ca init", .help = help_ca_init,
	                     .dir = PKI_DEFAULT_DIR, .days = PKI_CA_DAYS};
	char cluster[16], err[512], until[PKI_TIME_LEN];
	if (wants_help(argc, argv)) {
		fputs(help_ca_init, stdout);
		return 0;
	}
	int rc = pki_parse(&p, argc, argv, "--cluster --days --force");
	if (rc != 0)
		return rc;
	if (p.cluster == NULL) {
		uint8_t id[4];
		if (getrandom(id, sizeof id, 0) != (ssize_t)sizeof id) {
			fprintf(stderr, "loomctl ca init: getrandom: %s\n",
			        strerror(errno));
			return 1;
		}
		snprintf(cluster, sizeof cluster, "%02x%02x%02x%02x", id[0],
		         id[1], id[2], id[3]);
		p.cluster = cluster;
	} else if (!pki_valid_cluster_name(p.cluster)) {
		return usage_error(p.cmd, p.help, "'%s' is not a cluster name "
		                   "([A-Za-z0-9_.-]{1,47})", p.cluster);
	}
	time_t now = time(NULL);
	time_t not_after = now + (time_t)p.days * 86400;
	if (pki_ca_init(p.dir, p.cluster, now - PKI_BACKDATE_SECS, not_after,
	                p.force, err, sizeof err) != 0) {
		fprintf(stderr, "loomctl ca init: %s\n", err);
		return 1;
	}
	static const char *const files[] = {
		"ca.key.pem  (the CA key, mode 0600: it stays here)",
		"ca.crt.pem  (the CA certificate: every node gets a copy)",
		"crl.pem     (the revocation list: every node gets a copy)",
		"serial, issued.txt",
	};
	pki_time_format(not_after, until);
	printf("created the cluster CA \"" PKI_CA_CN_PREFIX "%s\" in %s, "
	       "valid until %s\n", p.cluster, p.dir, until);
	print_files(p.dir, files, sizeof files / sizeof files[0]);
	return fflush(stdout) == 0 ? 0 : 1;
}

static struct pki_ca *open_ca(const char *cmd, const char *dir,
                              bool with_key)
{
	struct pki_ca *ca;
	char err[512];
	if (pki_ca_open(dir, with_key, &ca, err, sizeof err) != 0) {
		fprintf(stderr, "loomctl %s: %s\n", cmd, err);
		return NULL;
	}
	return ca;
}

/* loomctl cert issue NODE [--dir DIR] [--days N] [--out DIR] [--force] */
static int cmd_cert_issue(int argc, char **argv)
{
	struct pki_args p = {.cmd = "cert issue", .help = help_cert_issue,
	                     .dir = PKI_DEFAULT_DIR, .days = PKI_CERT_DAYS,
	                     .pos_name = "NODE"};
	char err[512], out[4096], a[PKI_TIME_LEN], b[PKI_TIME_LEN];
	if (wants_help(argc, argv)) {
		fputs(help_cert_issue, stdout);
		return 0;
	}
	int rc = pki_parse(&p, argc, argv, "--days --out --force");
	if (rc != 0)
		return rc;
	if (!pki_valid_node_name(p.pos))
		return usage_error(p.cmd, p.help, "'%s' is not a node name "
		                   "([A-Za-z0-9_.-]{1,63}, not '.', '..' or "
		                   "'ca')", p.pos);
	struct pki_ca *ca = open_ca(p.cmd, p.dir, true);
	if (ca == NULL)
		return 1;
	time_t now = time(NULL);
	time_t not_before = now - PKI_BACKDATE_SECS;
	time_t not_after = now + (time_t)p.days * 86400;
	if (not_before < pki_ca_not_before(ca))
		not_before = pki_ca_not_before(ca);
	if (not_after > pki_ca_not_after(ca)) {
		pki_time_format(pki_ca_not_after(ca), a);
		fprintf(stderr, "loomctl cert issue: %llu days would outlive "
		        "the CA (valid until %s): --days %lld at most\n",
		        (unsigned long long)p.days, a,
		        (long long)((pki_ca_not_after(ca) - now) / 86400));
		pki_ca_free(ca);
		return 1;
	}
	struct pki_record rec;
	rc = pki_cert_issue(ca, p.pos, not_before, not_after, p.out, p.force,
	                    &rec, err, sizeof err);
	pki_ca_free(ca);
	if (rc != 0) {
		fprintf(stderr, "loomctl cert issue: %s\n", err);
		return 1;
	}
	if (p.out != NULL)
		snprintf(out, sizeof out, "%s", p.out);
	else
		snprintf(out, sizeof out, "%s/nodes/%s", p.dir, p.pos);
	pki_time_format(rec.not_before, a);
	pki_time_format(rec.not_after, b);
	printf("issued serial %llu to node %s, valid %s to %s\n",
	       (unsigned long long)rec.serial, rec.node, a, b);
	printf("  %s/%s.key.pem  (mode 0600)\n  %s/%s.crt.pem\n", out,
	       rec.node, out, rec.node);
	static const char *const files[] = {"ca.crt.pem", "crl.pem"};
	print_files(out, files, 2);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* loomctl cert revoke SERIAL [--dir DIR] */
static int cmd_cert_revoke(int argc, char **argv)
{
	struct pki_args p = {.cmd = "cert revoke", .help = help_cert_revoke,
	                     .dir = PKI_DEFAULT_DIR, .pos_name = "SERIAL"};
	char err[512];
	uint64_t serial;
	if (wants_help(argc, argv)) {
		fputs(help_cert_revoke, stdout);
		return 0;
	}
	int rc = pki_parse(&p, argc, argv, "");
	if (rc != 0)
		return rc;
	if (parse_u64(p.pos, 1, UINT64_MAX - 1, &serial) != 0)
		return usage_error(p.cmd, p.help, "'%s' is not a serial (a "
		                   "decimal integer >= 1)", p.pos);
	struct pki_ca *ca = open_ca(p.cmd, p.dir, true);
	if (ca == NULL)
		return 1;
	rc = pki_cert_revoke(ca, serial, time(NULL), err, sizeof err);
	struct pki_record *recs = NULL;
	size_t n = 0;
	const char *node = "?";
	if (rc >= 0 && pki_cert_list(ca, &recs, &n, err, sizeof err) == 0)
		for (size_t i = 0; i < n; i++)
			if (recs[i].serial == serial)
				node = recs[i].node;
	if (rc < 0)
		fprintf(stderr, "loomctl cert revoke: %s\n", err);
	else if (rc == 1)
		fprintf(stderr, "loomctl cert revoke: serial %llu (node %s) "
		        "was already revoked; nothing changed\n",
		        (unsigned long long)serial, node);
	else
		printf("revoked serial %llu (node %s); %s/crl.pem rewritten: "
		       "copy it to every node\n", (unsigned long long)serial,
		       node, p.dir);
	free(recs);
	pki_ca_free(ca);
	if (rc < 0)
		return 1;
	return fflush(stdout) == 0 ? 0 : 1;
}

static const char *status_of(const struct pki_record *r, time_t now)
{
	if (r->revoked)
		return "revoked";
	if (now > r->not_after)
		return "expired";
	if (now < r->not_before)
		return "not-yet-valid";
	return "valid";
}

/* loomctl cert list [--dir DIR] [--json] */
static int cmd_cert_list(int argc, char **argv)
{
	struct pki_args p = {.cmd = "cert list", .help = help_cert_list,
	                     .dir = PKI_DEFAULT_DIR};
	char err[512], a[PKI_TIME_LEN], b[PKI_TIME_LEN], r[PKI_TIME_LEN];
	if (wants_help(argc, argv)) {
		fputs(help_cert_list, stdout);
		return 0;
	}
	int rc = pki_parse(&p, argc, argv, "--json");
	if (rc != 0)
		return rc;
	struct pki_ca *ca = open_ca(p.cmd, p.dir, false);
	if (ca == NULL)
		return 1;
	struct pki_record *recs;
	size_t n;
	if (pki_cert_list(ca, &recs, &n, err, sizeof err) != 0) {
		fprintf(stderr, "loomctl cert list: %s\n", err);
		pki_ca_free(ca);
		return 1;
	}
	time_t now = time(NULL);
	if (p.json) {
		fputs("{\"ca\":", stdout);
		json_str(stdout, pki_ca_name(ca));
		fputs(",\"dir\":", stdout);
		json_str(stdout, p.dir);
		fputs(",\"certs\":[", stdout);
	} else {
		printf("# %s (%s)\n%-8s %-24s %-20s %-20s %s\n",
		       pki_ca_name(ca), p.dir, "SERIAL", "NODE", "NOT_BEFORE",
		       "NOT_AFTER", "STATUS");
	}
	for (size_t i = 0; i < n; i++) {
		pki_time_format(recs[i].not_before, a);
		pki_time_format(recs[i].not_after, b);
		pki_time_format(recs[i].revoked_at, r);
		const char *st = status_of(&recs[i], now);
		if (p.json) {
			printf("%s{\"serial\":%llu,\"node\":", i ? "," : "",
			       (unsigned long long)recs[i].serial);
			json_str(stdout, recs[i].node);
			printf(",\"not_before\":\"%s\",\"not_after\":\"%s\","
			       "\"status\":\"%s\",\"revoked_at\":", a, b, st);
			if (recs[i].revoked)
				printf("\"%s\"}", r);
			else
				fputs("null}", stdout);
		} else {
			printf("%-8llu %-24s %-20s %-20s %s%s%s\n",
			       (unsigned long long)recs[i].serial,
			       recs[i].node, a, b, st,
			       recs[i].revoked ? " at " : "",
			       recs[i].revoked ? r : "");
		}
	}
	if (p.json)
		fputs("]}\n", stdout);
	free(recs);
	pki_ca_free(ca);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* loomctl cert verify CERT [--name NODE] [--dir DIR | --ca F --crl F] */
static int cmd_cert_verify(int argc, char **argv)
{
	struct pki_args p = {.cmd = "cert verify", .help = help_cert_verify,
	                     .pos_name = "CERT"};
	char err[512], why[512];
	if (wants_help(argc, argv)) {
		fputs(help_cert_verify, stdout);
		return 0;
	}
	int rc = pki_parse(&p, argc, argv, "--name --ca --crl");
	if (rc != 0)
		return rc;
	if (p.name != NULL && !pki_valid_node_name(p.name))
		return usage_error(p.cmd, p.help, "'%s' is not a node name "
		                   "([A-Za-z0-9_.-]{1,63}, not '.', '..' or "
		                   "'ca')", p.name);
	if ((p.ca != NULL || p.crl != NULL) && p.dir != NULL)
		return usage_error(p.cmd, p.help, "%s", "--dir, or --ca and "
		                   "--crl: not both");
	if ((p.ca == NULL) != (p.crl == NULL))
		return usage_error(p.cmd, p.help, "%s", "--ca and --crl go "
		                   "together");
	struct pki_ca *ca;
	if (p.ca != NULL) {
		if (pki_ca_load(p.ca, p.crl, &ca, err, sizeof err) != 0) {
			fprintf(stderr, "loomctl cert verify: %s\n", err);
			return 1;
		}
	} else {
		ca = open_ca(p.cmd, p.dir ? p.dir : PKI_DEFAULT_DIR, false);
		if (ca == NULL)
			return 1;
	}
	uint8_t *der;
	size_t len;
	if (pki_read_cert_file(p.pos, &der, &len, err, sizeof err) != 0) {
		fprintf(stderr, "loomctl cert verify: %s\n", err);
		pki_ca_free(ca);
		return 1;
	}
	int v = pki_verify_peer(ca, der, len, p.name, time(NULL), why,
	                        sizeof why);
	free(der);
	pki_ca_free(ca);
	if (v == PKI_VERIFY_OK) {
		printf("%s: ok: %s\n", p.pos, why);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	fprintf(stderr, "loomctl cert verify: %s: %s: %s\n", p.pos,
	        pki_verify_str(v), why);
	return v >= PKI_VERIFY_BAD_CHAIN && v <= PKI_VERIFY_MALFORMED ?
	       9 + v : 1;
}

/* loomctl ca SUB ... and loomctl cert SUB ...: argv[0] is "ca"/"cert". */
static int cmd_group(int argc, char **argv)
{
	static const struct {
		const char *group, *sub;
		int (*fn)(int, char **);
	} subs[] = {
		{"ca", "init", cmd_ca_init},
		{"cert", "issue", cmd_cert_issue},
		{"cert", "revoke", cmd_cert_revoke},
		{"cert", "list", cmd_cert_list},
		{"cert", "verify", cmd_cert_verify},
	};
	const char *group = argv[0];
	const char *help = strcmp(group, "ca") == 0 ? help_ca : help_cert;
	if (argc < 2) {
		fputs(help, stderr);
		return 2;
	}
	if (is_help(argv[1])) {
		fputs(help, stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
		if (strcmp(subs[i].group, group) == 0 &&
		    strcmp(subs[i].sub, argv[1]) == 0)
			return subs[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "loomctl %s: unknown command '%s'\n", group, argv[1]);
	fputs(help, stderr);
	return 2;
}

/* ---- node, status, stats: requests to loom-controld -------------------- */

#define SOCKET_HELP                                                          \
	"  --socket PATH loom-controld's admin socket (default "             \
	CTLD_DEFAULT_SOCKET ")\n"
#define CTLD_EXIT_HELP                                                       \
	"\nexit: 0 done, 1 refused (loom-controld's reason on stderr), 2 "   \
	"usage,\n3 loom-controld cannot be reached (or did not answer within " \
	"10 s)\n"

static const char help_node_add[] =
	"usage: loomctl node add --id N --name NAME --mgmt IP[:PORT] --dp IP "
	"[--socket PATH]\n"
	"\n"
	"Adds a node to the cluster's topology through the local\n"
	"loom-controld, which saves the new version and sends it to every\n"
	"member; the members then open mutual-TLS links with the new node\n"
	"(the lower id dials) and hand their loomd the pair's keys. The\n"
	"first node added to an empty topology fixes the cluster id (from\n"
	"loomd, or [controld] cluster_id). Make changes through one node at\n"
	"a time.\n"
	"\n"
	"  --id N        the node id, 1..65535 (loomd's [node] id there)\n"
	"  --name NAME   its name: the CN of its certificate\n"
	"                ([A-Za-z0-9_.-]{1,63}, not '.', '..' or 'ca')\n"
	"  --mgmt IP[:PORT]  where its loom-controld listens (port default\n"
	"                9925)\n"
	"  --dp IP       its data-plane address (loomd's replication)\n"
	SOCKET_HELP
	CTLD_EXIT_HELP;

static const char help_node_remove[] =
	"usage: loomctl node remove ID [--socket PATH]\n"
	"\n"
	"Removes node ID from the topology through the local loom-controld:\n"
	"every member withdraws its key from its loomd (PEER_REMOVE) and\n"
	"closes its link; the node removed hears of it once and withdraws\n"
	"all of its own.\n"
	"\n"
	"  ID            the node id, 1..65535\n"
	SOCKET_HELP
	CTLD_EXIT_HELP;

static const char help_status[] =
	"usage: loomctl status [--json] [--socket PATH]\n"
	"\n"
	"This node (name, id, topology version, cluster id, loomd) and one\n"
	"line per peer: the control link (up, connecting or down, and since\n"
	"when), the data link as loomd reports it, the key epoch, the lag in\n"
	"entries and seconds, cursor and acked, entries/s over the last\n"
	"second; then the last refusals with their reasons.\n"
	"\n"
	"  --json        one JSON object: {\"node\", \"loomd\", \"peers\": [...],\n"
	"                \"refusals\": [...]} (docs/CONTROL.md)\n"
	SOCKET_HELP
	CTLD_EXIT_HELP;

static const char help_stats[] =
	"usage: loomctl stats [--json] [--socket PATH]\n"
	"\n"
	"loom-controld's counters (handshakes, refusals by reason, rekeys,\n"
	"key epochs, topology versions adopted and made, PEER_SETs and\n"
	"PEER_REMOVEs sent, loomd connections) and a summary of loomd's\n"
	"last STATUS.\n"
	"\n"
	"  --json        one JSON object: {\"node\", \"controld\": {...},\n"
	"                \"loomd\": {...}}\n"
	SOCKET_HELP
	CTLD_EXIT_HELP;

static const char help_node[] =
	"usage: loomctl node add --id N --name NAME --mgmt IP[:PORT] --dp IP "
	"[--socket PATH]\n"
	"       loomctl node remove ID [--socket PATH]\n"
	"(`loomctl node add --help` for details)\n";

/* One request to loom-controld and its answer (into *ans; TEXT points
 * into buf). Returns 0, or 3 after the message. */
static int ctld_call(const char *cmd, const char *path,
                     const struct ctl_msg *req, uint8_t *buf,
                     struct ctl_msg *ans)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	size_t len = 0, have = 0;
	if (strlen(path) >= sizeof a.sun_path) {
		fprintf(stderr, "loomctl %s: socket path too long: %s\n", cmd,
		        path);
		return 3;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		fprintf(stderr, "loomctl %s: cannot reach loom-controld at %s: "
		        "%s\n", cmd, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 3;
	}
	struct timeval tv = {.tv_sec = CTLD_TIMEOUT_S};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	int rc = ctl_msg_encode(req, buf, CTL_FRAME_MAX, &len);
	if (rc != 0) {
		fprintf(stderr, "loomctl %s: %s\n", cmd, ctl_msg_strerror(rc));
		close(fd);
		return 2;
	}
	for (size_t off = 0; off < len;) {
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "loomctl %s: sending to loom-controld "
			        "at %s: %s\n", cmd, path, strerror(errno));
			close(fd);
			return 3;
		}
		off += (size_t)n;
	}
	for (;;) {
		ssize_t need = ctl_frame_need(buf, have);
		if (need < 0) {
			fprintf(stderr, "loomctl %s: loom-controld's answer is "
			        "not a frame\n", cmd);
			close(fd);
			return 3;
		}
		if (need > 0) {
			rc = ctl_msg_decode(buf, (size_t)need, ans);
			close(fd);
			if (rc != 0) {
				fprintf(stderr, "loomctl %s: loom-controld's "
				        "answer: %s\n", cmd,
				        ctl_msg_strerror(rc));
				return 3;
			}
			return 0;
		}
		ssize_t n = recv(fd, buf + have, CTL_FRAME_MAX - have, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "loomctl %s: loom-controld at %s %s\n",
			        cmd, path, n == 0 ? "closed the connection "
			        "without an answer" : errno == EAGAIN ||
			        errno == EWOULDBLOCK ? "did not answer within "
			        "10 s" : strerror(errno));
			close(fd);
			return 3;
		}
		have += (size_t)n;
	}
}

/* The answer of a request: 0 for OK of `type`, 1 for ERROR (printed). */
static int ctld_result(const char *cmd, const struct ctl_msg *ans,
                       enum ctl_type type)
{
	if (ans->type == CTL_OK && ans->u.ok.acked == type)
		return 0;
	if (ans->type == CTL_ERROR) {
		fprintf(stderr, "loomctl %s: %s\n", cmd, ans->u.error.message);
		return 1;
	}
	fprintf(stderr, "loomctl %s: loom-controld answered %s\n", cmd,
	        ctl_type_name(ans->type));
	return 1;
}

/* Parses the options of node/status/stats: --socket everywhere, and the
 * valued ones named in `valued` (NULL-terminated) into vals[]. Flags:
 * --json when json != NULL. Positional: into *pos when pos != NULL. */
static int ctld_parse(const char *cmd, const char *help, int argc,
                      char **argv, const char *const *valued,
                      const char **vals, const char **sock, bool *json,
                      const char **pos)
{
	for (int i = 1; i < argc; i++) {
		const char *v = NULL;
		int m = opt_val(argc, argv, &i, "--socket", &v);
		if (m < 0)
			return usage_error(cmd, help, "%s needs a value",
			                   "--socket");
		if (m > 0) {
			if (*v == '\0')
				return usage_error(cmd, help, "%s needs a "
				                   "non-empty value", "--socket");
			*sock = v;
			continue;
		}
		size_t k;
		for (k = 0; valued != NULL && valued[k] != NULL; k++) {
			m = opt_val(argc, argv, &i, valued[k], &v);
			if (m != 0)
				break;
		}
		if (m < 0)
			return usage_error(cmd, help, "%s needs a value",
			                   valued[k]);
		if (m > 0) {
			vals[k] = v;
			continue;
		}
		const char *a = argv[i];
		if (json != NULL && strcmp(a, "--json") == 0)
			*json = true;
		else if (a[0] == '-' && a[1] != '\0')
			return usage_error(cmd, help, "unknown option '%s'", a);
		else if (pos == NULL)
			return usage_error(cmd, help, "unexpected argument "
			                   "'%s'", a);
		else if (*pos != NULL)
			return usage_error(cmd, help, "one argument only, got "
			                   "another: '%s'", a);
		else
			*pos = a;
	}
	return 0;
}

static int node_add(int argc, char **argv)
{
	static const char *const valued[] = {"--id", "--name", "--mgmt",
	                                     "--dp", NULL};
	const char *cmd = "node add", *vals[4] = {NULL, NULL, NULL, NULL};
	const char *sock = CTLD_DEFAULT_SOCKET;
	if (wants_help(argc, argv)) {
		fputs(help_node_add, stdout);
		return 0;
	}
	int rc = ctld_parse(cmd, help_node_add, argc, argv, valued, vals,
	                    &sock, NULL, NULL);
	if (rc != 0)
		return rc;
	for (int k = 0; k < 4; k++)
		if (vals[k] == NULL)
			return usage_error(cmd, help_node_add, "%s missing",
			                   valued[k]);
	uint64_t id;
	struct ctl_msg m = {.type = CTL_NODE_ADD};
	if (parse_u64(vals[0], 1, 65535, &id) != 0)
		return usage_error(cmd, help_node_add, "--id must be an "
		                   "integer in 1..65535, got '%s'", vals[0]);
	if (!pki_valid_node_name(vals[1]))
		return usage_error(cmd, help_node_add, "'%s' is not a node "
		                   "name ([A-Za-z0-9_.-]{1,63}, not '.', '..' "
		                   "or 'ca')", vals[1]);
	if (topo_parse_addr(vals[2], &m.u.node_add.mgmt_ip_be,
	                    &m.u.node_add.mgmt_port) != 0 ||
	    m.u.node_add.mgmt_ip_be == 0)
		return usage_error(cmd, help_node_add, "--mgmt must be IP or "
		                   "IP:PORT (IPv4, port 1..65535), got '%s'",
		                   vals[2]);
	if (topo_parse_addr(vals[3], &m.u.node_add.dp_ip_be, NULL) != 0 ||
	    m.u.node_add.dp_ip_be == 0)
		return usage_error(cmd, help_node_add, "--dp must be an IPv4 "
		                   "address, got '%s'", vals[3]);
	m.u.node_add.node_id = (uint16_t)id;
	m.u.node_add.req_id = (uint32_t)getpid();
	snprintf(m.u.node_add.name, sizeof m.u.node_add.name, "%s", vals[1]);
	uint8_t *buf = malloc(CTL_FRAME_MAX);
	struct ctl_msg ans;
	if (buf == NULL) {
		fputs("loomctl node add: out of memory\n", stderr);
		return 1;
	}
	rc = ctld_call(cmd, sock, &m, buf, &ans);
	if (rc == 0)
		rc = ctld_result(cmd, &ans, CTL_NODE_ADD);
	if (rc == 0) {
		char mgmt[TOPO_ADDR_STR], dp[TOPO_ADDR_STR];
		topo_addr_str(m.u.node_add.mgmt_ip_be, m.u.node_add.mgmt_port,
		              mgmt);
		topo_addr_str(m.u.node_add.dp_ip_be, 0, dp);
		printf("added node %u (%s): mgmt %s, data plane %s\n",
		       (unsigned)id, vals[1], mgmt, dp);
	}
	free(buf);
	if (rc == 0 && fflush(stdout) != 0)
		rc = 1;
	return rc;
}

static int node_remove(int argc, char **argv)
{
	const char *cmd = "node remove", *pos = NULL;
	const char *sock = CTLD_DEFAULT_SOCKET;
	if (wants_help(argc, argv)) {
		fputs(help_node_remove, stdout);
		return 0;
	}
	int rc = ctld_parse(cmd, help_node_remove, argc, argv, NULL, NULL,
	                    &sock, NULL, &pos);
	if (rc != 0)
		return rc;
	uint64_t id;
	if (pos == NULL)
		return usage_error(cmd, help_node_remove, "%s missing", "ID");
	if (parse_u64(pos, 1, 65535, &id) != 0)
		return usage_error(cmd, help_node_remove, "ID must be an "
		                   "integer in 1..65535, got '%s'", pos);
	struct ctl_msg m = {.type = CTL_NODE_REMOVE}, ans;
	m.u.node_remove.node_id = (uint16_t)id;
	m.u.node_remove.req_id = (uint32_t)getpid();
	uint8_t *buf = malloc(CTL_FRAME_MAX);
	if (buf == NULL) {
		fputs("loomctl node remove: out of memory\n", stderr);
		return 1;
	}
	rc = ctld_call(cmd, sock, &m, buf, &ans);
	if (rc == 0)
		rc = ctld_result(cmd, &ans, CTL_NODE_REMOVE);
	if (rc == 0)
		printf("removed node %u\n", (unsigned)id);
	free(buf);
	if (rc == 0 && fflush(stdout) != 0)
		rc = 1;
	return rc;
}

/* loomctl node add|remove ...: argv[0] is "node". */
static int cmd_node(int argc, char **argv)
{
	if (argc < 2) {
		fputs(help_node, stderr);
		return 2;
	}
	if (is_help(argv[1])) {
		fputs(help_node, stdout);
		return 0;
	}
	if (strcmp(argv[1], "add") == 0)
		return node_add(argc - 1, argv + 1);
	if (strcmp(argv[1], "remove") == 0)
		return node_remove(argc - 1, argv + 1);
	fprintf(stderr, "loomctl node: unknown command '%s'\n", argv[1]);
	fputs(help_node, stderr);
	return 2;
}

/* loomctl status|stats [--json] [--socket PATH]: argv[0] names it. */
static int cmd_report(int argc, char **argv)
{
	bool stats = strcmp(argv[0], "stats") == 0, json = false;
	const char *cmd = argv[0], *help = stats ? help_stats : help_status;
	const char *sock = CTLD_DEFAULT_SOCKET;
	if (wants_help(argc, argv)) {
		fputs(help, stdout);
		return 0;
	}
	int rc = ctld_parse(cmd, help, argc, argv, NULL, NULL, &sock, &json,
	                    NULL);
	if (rc != 0)
		return rc;
	struct ctl_msg m = {.type = stats ? CTL_STATS_REQ : CTL_STATUS_REQ};
	struct ctl_msg ans;
	m.u.req.req_id = (uint32_t)getpid();
	m.u.req.format = json ? CTL_FMT_JSON : CTL_FMT_TEXT;
	uint8_t *buf = malloc(CTL_FRAME_MAX);
	if (buf == NULL) {
		fprintf(stderr, "loomctl %s: out of memory\n", cmd);
		return 1;
	}
	rc = ctld_call(cmd, sock, &m, buf, &ans);
	if (rc == 0 && ans.type == CTL_TEXT) {
		fwrite(ans.u.text.text, 1, ans.u.text.text_len, stdout);
		if (ans.u.text.text_len > 0 &&
		    ans.u.text.text[ans.u.text.text_len - 1] != '\n')
			fputc('\n', stdout);
	} else if (rc == 0) {
		rc = ctld_result(cmd, &ans, m.type);
		if (rc == 0)
			rc = 1; /* an OK is no answer to this */
	}
	free(buf);
	if (rc == 0 && fflush(stdout) != 0)
		rc = 1;
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("loomctl %s\n", LOOMCTL_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "passwd") == 0)
		return cmd_passwd(argc - 1, argv + 1);
	if (strcmp(argv[1], "ca") == 0 || strcmp(argv[1], "cert") == 0)
		return cmd_group(argc - 1, argv + 1);
	if (strcmp(argv[1], "node") == 0)
		return cmd_node(argc - 1, argv + 1);
	if (strcmp(argv[1], "status") == 0 || strcmp(argv[1], "stats") == 0)
		return cmd_report(argc - 1, argv + 1);
	fprintf(stderr, "loomctl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
