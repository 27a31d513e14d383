/* callerhash.c -- keyed hashes of caller numbers.
 *
 * A caller's number is personal data: Frontdesk keeps and logs only
 * HMAC-SHA-256(key, digits), truncated to 16 bytes (32 hex characters).
 * The key comes from the daemon (FRONTDESK_CALLER_KEY), never from the
 * rules file. The HMAC state is keyed once at load; each hash copies it,
 * which saves the two key-block compressions of a fresh HMAC (about half
 * the cost), and never allocates. Even so one hash is two SHA-256
 * compressions (about 850 ns with libsodium's portable SHA-256), so
 * rules_eval() computes it only for caller-aware plans, whose Redis caller
 * memory is keyed by it; priority callers are matched on their normalised
 * digits (see rules_group_is_priority() in rules_int.h).
 */
#include <string.h>

#include "rules_int.h"

int rules_caller_key_set(rules_t *r, const unsigned char *key, size_t len)
{
    if (sodium_init() < 0)
        return -1;
    crypto_auth_hmacsha256_init(&r->hmac, key, len);
    r->has_key = true;
    return 0;
}

int rules_caller_digits(const char *s, size_t n, char out[RULES_DID_MAX])
{
    const char *semi = memchr(s, ';', n);
    int len;

    if (semi)
        n = (size_t)(semi - s);
    len = rules_did_normalise(s, n, out);
    return len > 0 ? len : 0;
}

void rules_caller_digest(const rules_t *r, const char *digits, size_t len,
                         uint8_t out[RULES_HASH_BYTES])
{
    crypto_auth_hmacsha256_state st = r->hmac;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];

    crypto_auth_hmacsha256_update(&st, (const unsigned char *)digits, len);
    crypto_auth_hmacsha256_final(&st, mac);
    memcpy(out, mac, RULES_HASH_BYTES);
}

static void to_hex(const uint8_t *d, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * n] = '\0';
}

void rules_caller_hex(const uint8_t d[RULES_HASH_BYTES],
                      char out[RULES_CALLER_HASH_LEN + 1])
{
    to_hex(d, RULES_HASH_BYTES, out);
}

bool rules_caller_hash(const rules_t *r, const char *num, size_t len,
                       char out[RULES_CALLER_HASH_LEN + 1])
{
    char digits[RULES_DID_MAX];
    uint8_t d[RULES_HASH_BYTES];
    int n;

    out[0] = '\0';
    if (!r || !r->has_key || !num)
        return false;
    n = rules_caller_digits(num, len, digits);
    if (n == 0)
        return false;
    rules_caller_digest(r, digits, (size_t)n, d);
    to_hex(d, sizeof(d), out);
    return true;
}
