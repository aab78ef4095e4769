/*
 * loomctl: the operator's CLI for loom-controld (ca, cert, node, status,
 * stats) and for local chores (passwd). This build has the command table
 * and help; `passwd` works, and each other command's implementation
 * arrives with the control-plane issue: until then it says so and exits 1.
 */
#include "dataplane/http/auth.h"
#include "common/base64.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <termios.h>
#include <unistd.h>

#define LOOMCTL_VERSION "0.1.0"

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
	{"ca init", "--dir DIR", "create the cluster CA (ECDSA P-256)"},
	{"cert issue", "NODE --days N", "issue a node certificate"},
	{"cert revoke", "SERIAL", "revoke a certificate"},
	{"node add", "NAME --mgmt ADDR --data ADDR", "add a node to the cluster"},
	{"node remove", "NAME", "remove a node and withdraw its keys"},
	{"status", "[--json]", "links, key epochs, per-origin lag"},
	{"stats", "[--json]", "counters of the local node"},
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

static bool valid_user(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
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
	if (!valid_user(user)) {
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
	char name[64];
	snprintf(name, sizeof name, "%s%s%s", argv[1], argc > 2 ? " " : "",
	         argc > 2 ? argv[2] : "");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		size_t n = strlen(commands[i].name);
		if (strncmp(name, commands[i].name, n) == 0 &&
		    (name[n] == '\0' || name[n] == ' ')) {
			fprintf(stderr, "loomctl %s: not available yet (the "
			        "control-plane issue builds it)\n",
			        commands[i].name);
			return 1;
		}
	}
	fprintf(stderr, "loomctl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
