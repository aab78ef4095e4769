/* aead.c - ChaCha20-Poly1305 and AES-256-GCM over wolfCrypt; see aead.h. */
#include "dataplane/repl/aead.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include <errno.h>
#include <string.h>

_Static_assert(AEAD_KEY_LEN == CHACHA20_POLY1305_AEAD_KEYSIZE, "key size");
_Static_assert(AEAD_NONCE_LEN == CHACHA20_POLY1305_AEAD_IV_SIZE, "nonce");
_Static_assert(AEAD_NONCE_LEN == GCM_NONCE_MID_SZ, "gcm nonce");
_Static_assert(AEAD_TAG_LEN == CHACHA20_POLY1305_AEAD_AUTHTAG_SIZE, "tag");
_Static_assert(AEAD_TAG_LEN == AES_BLOCK_SIZE, "gcm tag");

void aead_memzero(void *p, size_t n)
{
	volatile uint8_t *v = p;

	while (n--)
		*v++ = 0;
}

const char *aead_alg_name(enum aead_alg alg)
{
	switch (alg) {
	case AEAD_CHACHA20_POLY1305:
		return "chacha20-poly1305";
	case AEAD_AES256_GCM:
		return "aes-256-gcm";
	case AEAD_NONE:
		break;
	}
	return "none";
}

void aead_wipe(struct aead *a)
{
	if (a->alg == AEAD_AES256_GCM)
		wc_AesFree(&a->u.aes);
	aead_memzero(a, sizeof(*a));
	a->alg = AEAD_NONE;
}

int aead_init(struct aead *a, enum aead_alg alg, const uint8_t key[AEAD_KEY_LEN])
{
	aead_memzero(a, sizeof(*a));
	a->alg = AEAD_NONE;
	switch (alg) {
	case AEAD_CHACHA20_POLY1305:
		memcpy(a->u.key, key, AEAD_KEY_LEN);
		break;
	case AEAD_AES256_GCM:
		if (wc_AesInit(&a->u.aes, NULL, INVALID_DEVID) != 0)
			return EIO;
		if (wc_AesGcmSetKey(&a->u.aes, key, AEAD_KEY_LEN) != 0) {
			wc_AesFree(&a->u.aes);
			aead_memzero(a, sizeof(*a));
			return EIO;
		}
		break;
	default:
		return EINVAL;
	}
	a->alg = alg;
	return 0;
}

int aead_seal(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN],
              const uint8_t *ad, size_t ad_len, const uint8_t *in,
              uint8_t *out, size_t len, uint8_t tag[AEAD_TAG_LEN])
{
	int rc;

	if (len > AEAD_MAX_LEN || ad_len > AEAD_MAX_LEN)
		return EINVAL;
	switch (a->alg) {
	case AEAD_CHACHA20_POLY1305:
		rc = wc_ChaCha20Poly1305_Encrypt(a->u.key, nonce, ad,
		                                 (word32)ad_len, in,
		                                 (word32)len, out, tag);
		break;
	case AEAD_AES256_GCM:
		rc = wc_AesGcmEncrypt(&a->u.aes, out, in, (word32)len, nonce,
		                      AEAD_NONCE_LEN, tag, AEAD_TAG_LEN, ad,
		                      (word32)ad_len);
		break;
	default:
		return EINVAL;
	}
	return rc == 0 ? 0 : EIO;
}

/* The streaming APIs of both ciphers carry partial blocks across calls, so
 * pieces of any length give the one-shot ciphertext. */
static int sealv_chacha(struct aead *a, const uint8_t *nonce,
                        const uint8_t *ad, size_t ad_len,
                        const struct aead_iov *iov, unsigned n, uint8_t *out,
                        uint8_t *tag)
{
	ChaChaPoly_Aead st;
	int rc;

	rc = wc_ChaCha20Poly1305_Init(&st, a->u.key, nonce,
	                              CHACHA20_POLY1305_AEAD_ENCRYPT);
	if (rc == 0 && ad_len)
		rc = wc_ChaCha20Poly1305_UpdateAad(&st, ad, (word32)ad_len);
	for (unsigned i = 0; rc == 0 && i < n; i++) {
		if (iov[i].len == 0)
			continue;
		rc = wc_ChaCha20Poly1305_UpdateData(&st, iov[i].base, out,
		                                    (word32)iov[i].len);
		out += iov[i].len;
	}
	if (rc == 0)
		rc = wc_ChaCha20Poly1305_Final(&st, tag);
	aead_memzero(&st, sizeof(st)); /* keystream state */
	return rc == 0 ? 0 : EIO;
}

static int sealv_gcm(struct aead *a, const uint8_t *nonce, const uint8_t *ad,
                     size_t ad_len, const struct aead_iov *iov, unsigned n,
                     uint8_t *out, uint8_t *tag)
{
	int rc;

	/* key NULL: keep the schedule and table set by aead_init. */
	rc = wc_AesGcmEncryptInit(&a->u.aes, NULL, 0, nonce, AEAD_NONCE_LEN);
	if (rc == 0 && ad_len)
		rc = wc_AesGcmEncryptUpdate(&a->u.aes, NULL, NULL, 0, ad,
		                            (word32)ad_len);
	for (unsigned i = 0; rc == 0 && i < n; i++) {
		if (iov[i].len == 0)
			continue;
		rc = wc_AesGcmEncryptUpdate(&a->u.aes, out, iov[i].base,
		                            (word32)iov[i].len, NULL, 0);
		out += iov[i].len;
	}
	if (rc == 0)
		rc = wc_AesGcmEncryptFinal(&a->u.aes, tag, AEAD_TAG_LEN);
	return rc == 0 ? 0 : EIO;
}

int aead_sealv(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN],
               const uint8_t *ad, size_t ad_len, const struct aead_iov *iov,
               unsigned n, uint8_t *out, uint8_t tag[AEAD_TAG_LEN])
{
	size_t total = 0;

	for (unsigned i = 0; i < n; i++) {
		if (iov[i].len > AEAD_MAX_LEN - total)
			return EINVAL;
		total += iov[i].len;
	}
	if (ad_len > AEAD_MAX_LEN)
		return EINVAL;
	switch (a->alg) {
	case AEAD_CHACHA20_POLY1305:
		return sealv_chacha(a, nonce, ad, ad_len, iov, n, out, tag);
	case AEAD_AES256_GCM:
		return sealv_gcm(a, nonce, ad, ad_len, iov, n, out, tag);
	default:
		return EINVAL;
	}
}

int aead_open(struct aead *a, const uint8_t nonce[AEAD_NONCE_LEN],
              const uint8_t *ad, size_t ad_len, const uint8_t *in,
              uint8_t *out, size_t len, const uint8_t tag[AEAD_TAG_LEN])
{
	int rc;

	if (len > AEAD_MAX_LEN || ad_len > AEAD_MAX_LEN)
		return EINVAL;
	switch (a->alg) {
	case AEAD_CHACHA20_POLY1305:
		rc = wc_ChaCha20Poly1305_Decrypt(a->u.key, nonce, ad,
		                                 (word32)ad_len, in,
		                                 (word32)len, tag, out);
		if (rc == MAC_CMP_FAILED_E)
			goto forged;
		break;
	case AEAD_AES256_GCM:
		rc = wc_AesGcmDecrypt(&a->u.aes, out, in, (word32)len, nonce,
		                      AEAD_NONCE_LEN, tag, AEAD_TAG_LEN, ad,
		                      (word32)ad_len);
		if (rc == AES_GCM_AUTH_E)
			goto forged;
		break;
	default:
		return EINVAL;
	}
	if (rc == 0)
		return 0;
	aead_memzero(out, len);
	return EIO;
forged:
	aead_memzero(out, len);
	return EBADMSG;
}
