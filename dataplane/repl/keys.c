/* keys.c - per-connection link keys by HKDF-SHA256; see keys.h. */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hmac.h>

#include "dataplane/repl/keys.h"

#include <errno.h>
#include <string.h>

#include "storage/be.h"

#define LABEL_LEN (sizeof REPL_KEYS_INFO_LABEL - 1)
#define INFO_LEN (LABEL_LEN + 2 + 2 + 2 * REPL_KEYS_NONCE_LEN)
#define OKM_LEN (FRAME_KEY_LEN + FRAME_SALT_LEN)

int repl_keys_derive(const uint8_t secret[REPL_KEYS_SECRET_LEN],
                     uint64_t cluster_id, uint16_t from_id, uint16_t to_id,
                     const uint8_t nonce_connect[REPL_KEYS_NONCE_LEN],
                     const uint8_t nonce_accept[REPL_KEYS_NONCE_LEN],
                     enum aead_alg alg, struct frame_keys *out)
{
	uint8_t salt[8], info[INFO_LEN], okm[OKM_LEN];
	size_t n = 0;
	int rc;

	if (secret == NULL || nonce_connect == NULL || nonce_accept == NULL ||
	    out == NULL)
		return EINVAL;
	put_be(salt, cluster_id, 8);
	memcpy(info, REPL_KEYS_INFO_LABEL, LABEL_LEN);
	n += LABEL_LEN;
	put_be(info + n, from_id, 2);
	n += 2;
	put_be(info + n, to_id, 2);
	n += 2;
	memcpy(info + n, nonce_connect, REPL_KEYS_NONCE_LEN);
	n += REPL_KEYS_NONCE_LEN;
	memcpy(info + n, nonce_accept, REPL_KEYS_NONCE_LEN);
	n += REPL_KEYS_NONCE_LEN;

	rc = wc_HKDF(WC_SHA256, secret, REPL_KEYS_SECRET_LEN, salt, sizeof salt,
	             info, (word32)n, okm, sizeof okm);
	if (rc != 0) {
		aead_memzero(okm, sizeof okm);
		aead_memzero(out, sizeof *out);
		return EIO;
	}
	out->alg = alg;
	memcpy(out->key, okm, FRAME_KEY_LEN);
	memcpy(out->salt, okm + FRAME_KEY_LEN, FRAME_SALT_LEN);
	aead_memzero(okm, sizeof okm);
	return 0;
}
