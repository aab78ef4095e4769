/*
 * pki_issue_at: issues a node certificate with a validity chosen relative
 * to now, for loom-controld's tests (`loomctl cert issue` always starts an
 * hour back and lasts whole days, so it cannot make an expired one).
 *
 *   pki_issue_at CA_DIR NODE NOT_BEFORE_OFFSET NOT_AFTER_OFFSET OUT_DIR
 *
 * Offsets are seconds from now (negative: in the past); the certificate
 * is issued with pki_cert_issue (control/pki.h), --force, into OUT_DIR.
 * Prints the serial. Exit 0, 1 failed, 2 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "control/pki.h"

static int offset(const char *s, long long *out)
{
	char *end = NULL;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno != 0 || end == s || *end != '\0' ? -1 : 0;
}

int main(int argc, char **argv)
{
	long long nb, na;
	if (argc != 6 || offset(argv[3], &nb) != 0 ||
	    offset(argv[4], &na) != 0 || nb >= na) {
		fputs("usage: pki_issue_at CA_DIR NODE NOT_BEFORE_OFFSET "
		      "NOT_AFTER_OFFSET OUT_DIR (seconds from now, before < "
		      "after)\n", stderr);
		return 2;
	}
	char err[512];
	struct pki_ca *ca;
	struct pki_record rec;
	if (pki_ca_open(argv[1], true, &ca, err, sizeof err) != 0) {
		fprintf(stderr, "pki_issue_at: %s\n", err);
		return 1;
	}
	time_t now = time(NULL);
	int rc = pki_cert_issue(ca, argv[2], now + (time_t)nb, now + (time_t)na,
	                        argv[5], true, &rec, err, sizeof err);
	pki_ca_free(ca);
	if (rc != 0) {
		fprintf(stderr, "pki_issue_at: %s\n", err);
		return 1;
	}
	printf("%llu\n", (unsigned long long)rec.serial);
	return 0;
}
