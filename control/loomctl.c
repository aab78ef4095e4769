/*
 * loomctl: the operator's CLI for loom-controld (ca, cert, node, status,
 * stats). This build has the command table and help; each command's
 * implementation arrives with the control-plane issue, and until then a
 * command says so and exits 1.
 */
#include <stdio.h>
#include <string.h>

#define LOOMCTL_VERSION "0.1.0"

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
};

static void usage(FILE *f)
{
	fputs("usage: loomctl COMMAND [ARGS]\n\ncommands:\n", f);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-12s %-30s %s\n", commands[i].name,
		        commands[i].args, commands[i].help);
	fputs("\n  -h, --help     this text\n  -V, --version  print the version\n",
	      f);
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
