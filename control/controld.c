/*
 * loom-controld: the control-plane process (mTLS handshakes with every
 * peer's loom-controld, topology, keys for loomd over a Unix socket).
 *
 * This build carries the command line and library wiring only: the
 * handshakes and the socket protocol arrive with the control-plane issue.
 * Until then it says so and exits non-zero rather than pretend to run.
 */
#include <getopt.h>
#include <stdio.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#define CONTROLD_VERSION "0.1.0"

static void usage(FILE *f)
{
	fputs("usage: loom-controld --config FILE\n"
	      "\n"
	      "Loom's control plane: runs the mutual-TLS handshakes with every\n"
	      "peer, owns the cluster topology and hands loomd its replication\n"
	      "keys over a Unix socket.\n"
	      "\n"
	      "  -c, --config FILE   the node's configuration\n"
	      "  -h, --help          this text\n"
	      "  -V, --version       print the version and the wolfSSL version\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *config = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("loom-controld %s (wolfSSL %s)\n", CONTROLD_VERSION,
			       wolfSSL_lib_version());
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (config == NULL) {
		usage(stderr);
		return 2;
	}
	fprintf(stderr, "loom-controld: the control plane is not built yet "
	        "(see the control-plane issue); nothing to run for %s\n",
	        config);
	return 1;
}
